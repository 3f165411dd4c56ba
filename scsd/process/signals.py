"""Stop signals (SIGTERM, SIGINT) over the daemon's whole life: one stop request however many
copies of it arrive together, and a deliberate later signal to force the exit.

A terminal's Ctrl-C reaches every process of the foreground group, so under `uv run scsd` it
reaches scsd from the terminal and again from uv, which forwards it; a `kill` to the process
group (a supervisor, `kill -- -PGID`) does the same with SIGTERM. Copies arriving within
`DUPLICATE_SECONDS` of the first are that same request. A signal later than that means "stop
now": the process ends at once by the signal's default action (status 130 or 143), without
waiting for the drain. Once the daemon has stopped, late copies are ignored.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Final

import trio

logger = logging.getLogger(__name__)

STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
DUPLICATE_SECONDS: Final = 1.0


class StopSignals:
    """Installs our handler for SIGTERM and SIGINT (`install`, before the slow imports, so a
    signal during start-up still means a clean stop); `serve` passes the first to the daemon."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.first: int | None = None
        self.duplicates = 0
        self._clock = clock
        self._first_at = 0.0
        self._finished = False
        self._notify: Callable[[int, bool], None] | None = None

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)

    def finished(self) -> None:
        """The daemon has stopped: ignore whatever still arrives while the process exits.

        SIG_IGN rather than our handler: Python's finalization puts back the default action
        of every signal with a Python handler, and a copy arriving then would kill the process.
        """
        self._finished = True
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)

    async def serve(
        self,
        on_stop: Callable[[int], None],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Call `on_stop(signum)` once, for the first stop signal (at once if it came during
        start-up), and log the copies of it. Runs until cancelled."""
        send, receive = trio.open_memory_channel[tuple[int, bool]](math.inf)
        token = trio.lowlevel.current_trio_token()
        # Signal-safe: run_sync_soon is trio's entry point for signal handlers.
        self._notify = lambda signum, duplicate: token.run_sync_soon(send.send_nowait, (signum, duplicate))
        stopped = False
        try:
            task_status.started()
            if self.first is not None:  # arrived before `_notify` was set
                stopped = True
                on_stop(self.first)
            async for signum, duplicate in receive:
                if duplicate:
                    logger.info(
                        "%s again within %.0f s: the same stop request (a terminal's Ctrl-C reaches "
                        "scsd and `uv run`, which forwards it); a later signal forces the exit",
                        signal.Signals(signum).name,
                        DUPLICATE_SECONDS,
                    )
                elif not stopped:
                    stopped = True
                    on_stop(signum)
        finally:
            self._notify = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        now = self._clock()
        if self._finished:
            return
        if self.first is None:
            self.first, self._first_at = signum, now
            duplicate = False
        elif now - self._first_at < DUPLICATE_SECONDS:
            self.duplicates += 1
            duplicate = True
        else:
            _force(signum)
            return
        notify = self._notify
        if notify is not None:
            notify(signum, duplicate)


def _force(signum: int) -> None:
    """End the process now by `signum`'s default action (a signal handler cannot log safely)."""
    name = signal.Signals(signum).name
    os.write(2, f"scsd: {name} again: stopping now, without waiting for the drain\n".encode())
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)
