"""A subscriber's bounded queue of changes: the part of a trio memory channel the hub uses,
at a fraction of its memory (SPEC §8: ≤ 30 KiB per idle connection).

A memory channel pair costs ~1.8 KiB even when empty, and every WebSocket and SSE stream has
one. An `Inbox` is one small object; its deque exists only while something is queued, and a
waiting receiver is parked with trio's low-level API instead of a parking lot.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import trio

T = TypeVar("T")


class Inbox(Generic[T]):
    """FIFO of at most `buffer` items; one sender (the hub, synchronously), one receiver.

    Like a memory channel: `receive` raises `trio.EndOfChannel` once the sender `end`ed it and
    it is drained, and `trio.ClosedResourceError` after the receiver closed it (`close`, or
    leaving `with inbox:`); `put_nowait` then says False, as it does when full.
    """

    __slots__ = ("_buffer", "_closed", "_ended", "_items", "_waiter")

    def __init__(self, buffer: int) -> None:
        self._buffer = buffer
        self._items: deque[T] | None = None  # only while something is queued
        self._waiter: trio.lowlevel.Task | None = None
        self._ended = False  # the sender is done: the receiver drains, then EndOfChannel
        self._closed = False  # the receiver is done: nothing more is accepted

    def __len__(self) -> int:
        return len(self._items) if self._items is not None else 0

    # The sending side.

    def put_nowait(self, item: T) -> bool:
        """Queue `item`; False if the inbox is full, ended, or closed by its receiver."""
        if self._ended or self._closed:
            return False
        if self._items is None:
            self._items = deque()
        elif len(self._items) >= self._buffer:
            return False
        self._items.append(item)
        self._wake()
        return True

    def end(self) -> None:
        """No more items: the receiver gets what is queued, then `EndOfChannel`."""
        self._ended = True
        self._wake()

    # The receiving side.

    def receive_nowait(self) -> T:
        if self._closed:
            raise trio.ClosedResourceError("this inbox was closed by its receiver")
        items = self._items
        if items:
            item = items.popleft()
            if not items:
                self._items = None  # an idle subscriber holds no deque
            return item
        if self._ended:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def receive(self) -> T:
        """The next item, waiting for one. It is taken from the queue only when this task runs
        again and returned without another checkpoint, so nothing can be sent to the
        subscriber by another path between taking it and handling it (`Hub.publish`'s direct
        delivery relies on that)."""
        await trio.lowlevel.checkpoint()
        while True:
            try:
                return self.receive_nowait()
            except trio.WouldBlock:
                pass
            if self._waiter is not None:
                raise trio.BusyResourceError("another task is already receiving from this inbox")
            self._waiter = trio.lowlevel.current_task()

            def abort(_: object) -> trio.lowlevel.Abort:
                self._waiter = None
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)

    def close(self) -> None:
        self._closed = True
        self._items = None
        self._wake()

    def __enter__(self) -> Inbox[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __aiter__(self) -> Inbox[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def _wake(self) -> None:
        if self._waiter is not None:
            task, self._waiter = self._waiter, None
            trio.lowlevel.reschedule(task)
