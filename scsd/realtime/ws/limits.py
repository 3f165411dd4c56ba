"""What one client may take on the WebSocket port: the listener's settings and limits, the
sockets each identity holds, and the frame budget of each socket (SPEC §4: abuse limits)."""

from __future__ import annotations

import ssl
from collections import Counter
from dataclasses import dataclass

import trio


@dataclass(frozen=True)
class WsConfig:
    allowed_origins: tuple[str, ...] = ()
    handshake_seconds: float = 10.0
    ping_interval_seconds: float = 30.0
    send_timeout_seconds: float = 10.0
    close_seconds: float = 2.0
    auth_seconds: float = 10.0
    frames_per_second: float = 50.0
    frame_burst: float = 200.0
    max_sockets_per_identity: int = 10_000
    max_subscriptions_per_socket: int = 1_000
    # Server context for WSS (scsd.process.tls); None serves plain ws://.
    tls: ssl.SSLContext | None = None


class SocketQuota:
    """How many sockets each identity holds, against a limit."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._held: Counter[str] = Counter()

    def claim(self, agent_id: str) -> bool:
        if self._held[agent_id] >= self._limit:
            return False
        self._held[agent_id] += 1
        return True

    def release(self, agent_id: str) -> None:
        self._held[agent_id] -= 1
        if self._held[agent_id] <= 0:
            del self._held[agent_id]


class FrameBudget:
    """A token bucket: `burst` frames at once, refilled at `per_second`; empty means flood."""

    def __init__(self, per_second: float, burst: float) -> None:
        self._rate, self._burst = per_second, burst
        self._tokens, self._at = burst, trio.current_time()

    def take(self) -> bool:
        now = trio.current_time()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
