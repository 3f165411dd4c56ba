"""scsd.inbox.Inbox: a memory channel's semantics as the hub uses them, in one small object."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from scsd.realtime.inbox import Inbox


async def test_fifo_bounded_and_drained_before_end_of_channel() -> None:
    inbox: Inbox[int] = Inbox(2)
    assert inbox.put_nowait(1) and inbox.put_nowait(2)
    assert not inbox.put_nowait(3)  # full: the hub drops such a subscriber
    assert len(inbox) == 2
    inbox.end()
    assert not inbox.put_nowait(4)
    assert [await inbox.receive(), inbox.receive_nowait()] == [1, 2]
    assert len(inbox) == 0 and inbox._items is None  # an idle inbox holds no deque
    with pytest.raises(trio.EndOfChannel):
        await inbox.receive()
    with pytest.raises(trio.WouldBlock):
        Inbox[int](1).receive_nowait()


async def test_a_parked_receiver_takes_the_item_only_when_it_runs() -> None:
    """Between the put and the receiver running again the item stays queued (len 1): that is
    what keeps the hub's direct delivery from overtaking it."""
    inbox: Inbox[str] = Inbox(4)
    got: list[str] = []

    async def receiver() -> None:
        got.append(await inbox.receive())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        await trio.testing.wait_all_tasks_blocked()
        assert inbox.put_nowait("a")
        assert len(inbox) == 1 and not got
    assert got == ["a"] and len(inbox) == 0


async def test_cancelled_receiver_leaves_no_waiter_and_a_second_receiver_is_refused() -> None:
    inbox: Inbox[int] = Inbox(4)
    with trio.move_on_after(0.01):
        await inbox.receive()
    assert inbox._waiter is None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(inbox.receive)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await inbox.receive()
        inbox.put_nowait(7)
    assert len(inbox) == 0


async def test_end_wakes_a_parked_async_for_and_close_refuses_everything() -> None:
    inbox: Inbox[int] = Inbox(4)
    seen: list[int] = []

    async def follow() -> None:
        async for item in inbox:
            seen.append(item)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(follow)
        await trio.testing.wait_all_tasks_blocked()
        inbox.put_nowait(1)
        await trio.testing.wait_all_tasks_blocked()
        inbox.end()
    assert seen == [1]
    closed: Inbox[int] = Inbox(4)
    with closed:
        closed.put_nowait(1)
    assert not closed.put_nowait(2) and len(closed) == 0
    with pytest.raises(trio.ClosedResourceError):
        await closed.receive()
