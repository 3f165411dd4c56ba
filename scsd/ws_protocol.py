"""The WebSocket protocol's small pieces: close codes, the frame budget, reply shapes."""

from __future__ import annotations

from typing import Any, Final

import trio

from scsd.replies import ToolError

CLOSE_GOING_AWAY: Final = 1001
CLOSE_RESYNC: Final = 4001
CLOSE_POLICY: Final = 1008


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


def with_id(event: dict[str, Any], call_id: Any) -> dict[str, Any]:
    if call_id is not None:
        event["id"] = call_id
    return event


def no_session(sid: str) -> ToolError:
    return ToolError("SESSION_NOT_FOUND", f"Session {sid!r} does not exist.")


def unknown_tool(tool: object) -> ToolError:
    return ToolError(
        "UNKNOWN_TOOL",
        f"Unknown tool {tool!r}; use authenticate, subscribe, unsubscribe, "
        'get_messages, get_session_info, typing, or {"type": "ping"}.',
    )


def authenticate_first() -> ToolError:
    return ToolError(
        "AUTH_REQUIRED", 'Authenticate first: {"tool": "authenticate", "arguments": {"token": "..."}}.'
    )


def too_many_subscriptions() -> ToolError:
    return ToolError("LIMIT_EXCEEDED", "This socket follows the maximum of sessions; unsubscribe some.")
