"""Counting requests in flight, so shutdown can wait for them and not for idle streams."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import trio


class InFlight:
    """How many tool calls are running; `wait_idle()` returns when none are."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self._idle = trio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        if self.count == 0:
            self._idle = trio.Event()
        self.count += 1
        self.total += 1
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def wait_idle(self) -> None:
        while self.count:
            await self._idle.wait()
