"""Typing indicators: written to the change log (never to messages) behind a rate gate."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from scsd.composing import TYPING_SECONDS, Gate, Verdict
from scsd.errors import NotFound
from scsd.store._lane import Lane, log_change, now_micros, session_exists


@dataclass(frozen=True)
class TypingOutcome:
    """What `set_typing` did: `verdict` says whether subscribers were told; `expires_at`
    (micros) is when a start lapses, None for a stop."""

    verdict: Verdict
    expires_at: int | None


class SignalOps(Lane):
    _gate: Gate | None = None

    @property
    def typing_gate(self) -> Gate:
        if self._gate is None:
            self._gate = Gate()
        return self._gate

    def _message_sent(self, agent_id: str, session_id: str) -> None:
        self.typing_gate.message_sent(agent_id, session_id)

    async def set_typing(self, session_id: str, agent_id: str, typing: bool) -> TypingOutcome:
        """Tell the session's subscribers that `agent_id` started (or stopped) composing.

        Raises:
            NotFound: no such session.
        """
        now = now_micros()
        verdict, expires_at = self.typing_gate.decide(
            agent_id, session_id, typing, now + round(TYPING_SECONDS * 1_000_000) if typing else None
        )

        def run(db: sqlite_utils.Database) -> None:
            if not session_exists(db, session_id):
                raise NotFound("session", session_id)
            if verdict is Verdict.WRITE:
                action = "start" if typing else "stop"
                log_change(db, "typing", session_id, action, agent_id=agent_id, timestamp=now)

        try:
            if verdict is Verdict.WRITE:
                await self._write(run)
            else:
                await self._call(run)  # still say when the session does not exist
        except NotFound:
            self.typing_gate.message_sent(agent_id, session_id)  # forget what was not written
            raise
        return TypingOutcome(verdict, expires_at)
