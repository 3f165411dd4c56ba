"""Tests for scsd.hub: bounded per-subscriber channels, never-blocking publish, slow-consumer drop."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from scsd.model import Message
from scsd.realtime.changes import Change
from scsd.realtime.hub import Hub, HubStats

S1 = "session_" + "1" * 16
S2 = "session_" + "2" * 16


def change(message_id: int, session_id: str = S1) -> Change:
    message = Message(
        id=message_id,
        session_id=session_id,
        sender="agent-a",
        sender_type="claude",
        content=f"message {message_id}",
        visibility="public",
        message_type="agent_response",
        metadata={},
        timestamp=1_700_000_000_000_000 + message_id,
        parent_message_id=None,
    )
    return Change("new_message", session_id, message)


async def test_follower_receives_published_changes_in_order() -> None:
    """A subscriber following a session gets its changes, in publish order."""
    hub = Hub(buffer=10)
    with hub.subscribe() as sub:
        sub.add(S1)
        for i in (1, 2, 3):
            hub.publish(change(i))
        assert [sub.receive.receive_nowait() for _ in range(3)] == [change(1), change(2), change(3)]
        with pytest.raises(trio.WouldBlock):
            sub.receive.receive_nowait()


async def test_only_followers_of_the_session_receive() -> None:
    """A change reaches the followers of its session and nobody else."""
    hub = Hub(buffer=10)
    with hub.subscribe() as one, hub.subscribe() as two, hub.subscribe() as idle:
        one.add(S1)
        two.add(S2)
        hub.publish(change(1, S1))
        hub.publish(change(2, S2))
        assert one.receive.receive_nowait() == change(1, S1)
        assert two.receive.receive_nowait() == change(2, S2)
        for sub in (one, two, idle):
            with pytest.raises(trio.WouldBlock):
                sub.receive.receive_nowait()


async def test_one_subscription_can_follow_several_sessions() -> None:
    hub = Hub(buffer=10)
    with hub.subscribe() as sub:
        sub.add(S1)
        sub.add(S2)
        hub.publish(change(1, S1))
        hub.publish(change(2, S2))
        assert [sub.receive.receive_nowait() for _ in range(2)] == [change(1, S1), change(2, S2)]
        assert sub.sessions == {S1, S2}


async def test_discard_stops_delivery_for_that_session_only() -> None:
    hub = Hub(buffer=10)
    with hub.subscribe() as sub:
        sub.add(S1)
        sub.add(S2)
        sub.discard(S1)
        sub.discard(S1)  # discarding twice is harmless
        hub.publish(change(1, S1))
        hub.publish(change(2, S2))
        assert sub.receive.receive_nowait() == change(2, S2)
        with pytest.raises(trio.WouldBlock):
            sub.receive.receive_nowait()
        assert sub.sessions == {S2}


async def test_publish_never_blocks_on_a_full_subscriber() -> None:
    """Publishing to a subscriber that reads nothing returns at once, without a checkpoint."""
    hub = Hub(buffer=2)
    with hub.subscribe() as sub:
        sub.add(S1)
        with trio.testing.assert_no_checkpoints():
            for i in range(1, 1001):
                hub.publish(change(i))
        assert hub.statistics().published == 1000


async def test_buffer_is_bounded_and_slow_subscriber_is_dropped() -> None:
    """A subscriber gets at most `buffer` queued changes, then its channel ends (EndOfChannel)."""
    hub = Hub(buffer=2)
    with hub.subscribe() as slow:
        slow.add(S1)
        for i in (1, 2, 3, 4):
            hub.publish(change(i))
        assert slow.dropped
        # What was queued before the drop is still delivered, then the channel ends.
        with trio.fail_after(10):
            assert await slow.receive.receive() == change(1)
            assert await slow.receive.receive() == change(2)
            with pytest.raises(trio.EndOfChannel):
                await slow.receive.receive()
        # A dropped subscription no longer follows anything.
        assert slow.sessions == set()
    assert hub.statistics() == HubStats(subscribers=0, dropped=1, published=4)


async def test_slow_subscriber_dropped_while_others_keep_receiving() -> None:
    """Cutting off a slow subscriber does not cost a fast one any change."""
    hub = Hub(buffer=1)
    with hub.subscribe() as slow, hub.subscribe() as fast:
        slow.add(S1)
        fast.add(S1)
        received: list[Change] = []
        for i in range(1, 6):
            hub.publish(change(i))
            received.append(fast.receive.receive_nowait())
        assert received == [change(i) for i in range(1, 6)]
        assert slow.dropped
        assert not fast.dropped
        assert slow.receive.receive_nowait() == change(1)
        with pytest.raises(trio.EndOfChannel):
            slow.receive.receive_nowait()
        assert hub.statistics().dropped == 1


async def test_dropped_subscriber_wakes_a_blocked_receiver() -> None:
    """A task waiting in `async for` over a dropped subscription ends instead of hanging."""
    hub = Hub(buffer=1)
    got: list[Change] = []
    with trio.fail_after(10):
        with hub.subscribe() as sub:
            sub.add(S1)
            hub.publish(change(1))
            hub.publish(change(2))  # full: dropped
            async with trio.open_nursery() as nursery:

                async def consume() -> None:
                    async for item in sub.receive:
                        got.append(item)

                nursery.start_soon(consume)
    assert got == [change(1)]


async def test_subscriber_that_closed_its_receiver_is_dropped() -> None:
    """A subscriber whose receive end is closed is dropped on the next publish, others unaffected."""
    hub = Hub(buffer=4)
    with hub.subscribe() as gone, hub.subscribe() as alive:
        gone.add(S1)
        alive.add(S1)
        gone.receive.close()
        hub.publish(change(1))
        assert gone.dropped
        assert alive.receive.receive_nowait() == change(1)
        assert hub.statistics().dropped == 1


async def test_statistics_count_subscribers_drops_and_publishes() -> None:
    hub = Hub(buffer=1)
    assert hub.statistics() == HubStats(subscribers=0, dropped=0, published=0)
    with hub.subscribe() as a:
        assert hub.statistics().subscribers == 1
        with hub.subscribe() as b:
            a.add(S1)
            b.add(S1)
            hub.publish(change(1))
            b.receive.receive_nowait()
            hub.publish(change(2))  # a is full: dropped; b has room
            assert hub.statistics() == HubStats(subscribers=2, dropped=1, published=2)
        assert hub.statistics().subscribers == 1
    hub.publish(change(3, S2))  # nobody follows: still counted as published
    assert hub.statistics() == HubStats(subscribers=0, dropped=1, published=3)


async def test_exiting_subscribe_unregisters_and_closes() -> None:
    """After the `with` block the subscription gets nothing and its channel is closed."""
    hub = Hub(buffer=4)
    with hub.subscribe() as sub:
        sub.add(S1)
    hub.publish(change(1))
    assert hub.statistics().dropped == 0
    with pytest.raises(trio.ClosedResourceError):
        sub.receive.receive_nowait()


async def test_dropped_subscription_is_not_routed_to_again() -> None:
    """A dropped subscription that adds a session later (a racing `subscribe` call) is not re-registered.

    Otherwise the next publish finds its closed channel and counts the same subscriber as dropped twice.
    """
    hub = Hub(buffer=1)
    with hub.subscribe() as sub:
        sub.add(S1)
        hub.publish(change(1))
        hub.publish(change(2))  # dropped
        assert sub.dropped
        sub.add(S2)
        hub.publish(change(3, S2))
        assert hub.statistics().dropped == 1
