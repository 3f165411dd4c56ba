"""Typing indicators: how long one lasts, the gate that keeps them from flooding anyone, and
`TypingSignals`, the one path behind the MCP tool, the socket's `typing` call and the UI.

An indicator is a `change_log` row (kind 'typing'), never a message: watchers in every process
deliver it to the session's subscribers, who show "X is composing…" until it expires, a stop
arrives, or a message from X does. (Not named `typing.py`: that would shadow the stdlib.)
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from scsd.access import validation
from scsd.errors import NotFound, ToolError, permission_denied, session_not_found
from scsd.model import Identity, Message, iso_from_micros
from scsd.realtime.changes import TypingChange
from scsd.store import LoggedChange, Store, now_micros

# A start lapses by itself after this long; composers repeat it while they keep typing.
TYPING_SECONDS: Final = 6.0
# A repeated start within this long of the last one written is answered but not re-sent.
REFRESH_SECONDS: Final = 2.0
# Per identity, across sessions: writes per second sustained, and the burst allowed.
RATE_PER_SECOND: Final = 1.0
BURST: Final = 8.0
# Remembered state older than this is forgotten (the indicator has long expired).
FORGET_SECONDS: Final = 60.0


class Verdict(enum.Enum):
    WRITE = "write"  # tell the subscribers
    COALESCED = "coalesced"  # they already know: nothing to send
    LIMITED = "limited"  # this identity is sending too many; refuse


@dataclass
class _State:
    typing: bool
    written_at: float
    expires_at: int | None  # wall clock, micros: what subscribers were told


@dataclass
class _Bucket:
    tokens: float
    at: float


class Gate:
    """Decides, per (agent, session), whether a typing change is worth writing.

    Starts are coalesced within REFRESH_SECONDS; a stop is written only after a start; each
    identity has a token bucket across all its sessions, so toggling cannot flood either.
    State is per process: another process's starts are not known here, which errs toward
    writing (a redundant start costs one small row, never a wrong indicator).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._states: dict[tuple[str, str], _State] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._last_prune = clock()

    def decide(
        self, agent_id: str, session_id: str, typing: bool, expires_at: int | None
    ) -> tuple[Verdict, int | None]:
        """The verdict on a change whose indicator would expire at `expires_at` (None for a
        stop), and the expiry the subscribers know of (an earlier one when coalesced)."""
        now = self._clock()
        self._prune(now)
        state = self._states.get((agent_id, session_id))
        if typing and state is not None and state.typing and now - state.written_at < REFRESH_SECONDS:
            return Verdict.COALESCED, state.expires_at
        if not typing and (state is None or not state.typing):
            return Verdict.COALESCED, None
        if not self._take(agent_id, now):
            return Verdict.LIMITED, None
        self._states[(agent_id, session_id)] = _State(typing, now, expires_at)
        return Verdict.WRITE, expires_at

    def message_sent(self, agent_id: str, session_id: str) -> None:
        """X posted: subscribers clear X's indicator themselves; the next start is news."""
        self._states.pop((agent_id, session_id), None)

    def posted(self, message: Message) -> None:
        """`message_sent` for a message this process just stored (the store's `on_message`)."""
        self.message_sent(message.sender, message.session_id)

    def _take(self, agent_id: str, now: float) -> bool:
        bucket = self._buckets.get(agent_id)
        if bucket is None:
            bucket = self._buckets[agent_id] = _Bucket(BURST, now)
        bucket.tokens = min(BURST, bucket.tokens + (now - bucket.at) * RATE_PER_SECOND)
        bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def _prune(self, now: float) -> None:
        if now - self._last_prune < FORGET_SECONDS:
            return
        self._last_prune = now
        self._states = {k: s for k, s in self._states.items() if now - s.written_at < FORGET_SECONDS}
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < FORGET_SECONDS}


class TypingSignals:
    """`who` starts or stops composing in a session: checked, gated, logged for the watchers."""

    def __init__(self, store: Store, gate: Gate) -> None:
        self._store = store
        self._gate = gate

    async def signal(self, who: Identity, session_id: object, typing: object) -> dict[str, Any]:
        """The one path behind the MCP tool, the socket's `typing` call and the Web UI's
        endpoint, which differ only in how they shape the answer. Returns `session_id`,
        `typing`, `expires_at` (when a start lapses) and `sent` (whether subscribers were told
        now, or already knew).

        Raises:
            ToolError: PERMISSION_DENIED (no write), INVALID_INPUT, SESSION_NOT_FOUND,
                RATE_LIMITED (more changes than the per-identity bucket allows).
        """
        if not who.can("write"):
            raise permission_denied("write", who.permissions)
        sid = validation.session_id(session_id)
        flag = validation.boolean(typing, "typing")
        now = now_micros()
        verdict, expires = self._gate.decide(
            who.agent_id, sid, flag, now + round(TYPING_SECONDS * 1_000_000) if flag else None
        )
        action = ("start" if flag else "stop") if verdict is Verdict.WRITE else None
        try:
            await self._store.log_typing(sid, who.agent_id, action, now)
        except NotFound:
            self._gate.message_sent(who.agent_id, sid)  # forget what was not written
            raise session_not_found(sid) from None
        if verdict is Verdict.LIMITED:
            raise typing_limited()
        return {
            "session_id": sid,
            "typing": expires is not None,
            "expires_at": None if expires is None else iso_from_micros(expires),
            "sent": verdict is Verdict.WRITE,
        }


def typing_change(logged: LoggedChange) -> TypingChange:
    """A logged typing row as the event subscribers get: a start lapses TYPING_SECONDS later."""
    start = logged.action == "start"
    expires_at = logged.timestamp + round(TYPING_SECONDS * 1_000_000) if start else None
    return TypingChange(logged.session_id, logged.agent_id or "", start, expires_at)


def typing_limited() -> ToolError:
    return ToolError(
        "RATE_LIMITED",
        f"Too many typing changes; send at most about {RATE_PER_SECOND:g} per second "
        f"(repeat a start every {REFRESH_SECONDS:g}-{TYPING_SECONDS:g} s while composing).",
        suggestions=[f"Wait {1 / RATE_PER_SECOND:g} s and retry"],
    )
