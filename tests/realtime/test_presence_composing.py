"""Typing indicators and presence (issue #9): the gate, the hub's presence bookkeeping, and the
events a real daemon sends over WebSocket and SSE, also for a typing start from another process."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection, open_websocket_url

from scsd.model import Identity
from scsd.realtime import composing
from scsd.realtime.changes import Change, TypingChange, Watcher
from scsd.realtime.composing import Gate, TypingSignals, Verdict
from scsd.realtime.hub import Hub
from scsd.realtime.inbox import Inbox
from scsd.store import open_store, schema
from tests.kit.clients import JsonObject, next_event, open_sse, ws_call
from tests.kit.daemon import Running, new_session, post, stdio_client

S1 = "session_" + "1" * 16
ALICE = Identity("alice", "claude", frozenset({"read", "write"}))
BOB = Identity("bob", "gemini", frozenset({"read", "write"}))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the gate ---------------------------------------------------------------------------------


def test_gate_coalesces_repeated_starts_and_needs_a_start_before_a_stop() -> None:
    clock = Clock()
    gate = Gate(clock)
    assert gate.decide("a", S1, False, None) == (Verdict.COALESCED, None)  # nothing to stop
    assert gate.decide("a", S1, True, 10) == (Verdict.WRITE, 10)
    clock.now += composing.REFRESH_SECONDS / 2
    assert gate.decide("a", S1, True, 20) == (Verdict.COALESCED, 10)  # subscribers know of 10
    clock.now += composing.REFRESH_SECONDS
    assert gate.decide("a", S1, True, 30) == (Verdict.WRITE, 30)  # a refresh is news again
    assert gate.decide("a", S1, False, None) == (Verdict.WRITE, None)
    assert gate.decide("a", S1, False, None) == (Verdict.COALESCED, None)
    assert gate.decide("b", S1, True, 40) == (Verdict.WRITE, 40)  # per agent
    gate.message_sent("b", S1)
    assert gate.decide("b", S1, True, 50) == (Verdict.WRITE, 50)  # after a post, a start is news


def test_gate_limits_each_identity_across_sessions() -> None:
    """Toggling start/stop (or many sessions) spends a token bucket: a burst, then the rate."""
    clock = Clock()
    gate = Gate(clock)
    verdicts = [gate.decide("a", f"session_{n:016x}", True, 1)[0] for n in range(50)]
    assert verdicts.count(Verdict.WRITE) == composing.BURST
    assert set(verdicts[int(composing.BURST) :]) == {Verdict.LIMITED}
    assert gate.decide("other", S1, True, 1)[0] is Verdict.WRITE  # another identity is unaffected
    clock.now += 1 / composing.RATE_PER_SECOND
    assert gate.decide("a", "session_" + "f" * 16, True, 1)[0] is Verdict.WRITE
    assert gate.decide("a", "session_" + "e" * 16, True, 1)[0] is Verdict.LIMITED


def test_gate_forgets_old_state() -> None:
    clock = Clock()
    gate = Gate(clock)
    gate.decide("a", S1, True, 1)
    clock.now += composing.FORGET_SECONDS + 1
    gate.decide("b", S1, True, 1)  # prunes
    assert gate.decide("a", S1, False, None)[0] is Verdict.COALESCED  # its start is forgotten


# -- the hub ----------------------------------------------------------------------------------


def _presences(sub_receive: Inbox[Change]) -> list[tuple[list[str], int]]:
    found = []
    while True:
        try:
            change = sub_receive.receive_nowait()
        except trio.WouldBlock:
            return found
        if change.presence is not None:
            found.append(([w.agent_id for w in change.presence.watchers], change.presence.count))


async def test_hub_counts_distinct_identities_and_coalesces_presence_events(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(buffer=100)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.announce_presence, 1.0)
        with hub.subscribe(ALICE) as a1, hub.subscribe(ALICE) as a2, hub.subscribe(BOB) as b:
            a1.add(S1)
            await trio.sleep(0.01)  # the first change is announced at once
            assert _presences(a1.receive) == [(["alice"], 1)]
            a2.add(S1)  # same identity: no news
            b.add(S1)
            b.discard(S1)
            b.add(S1)  # three changes within the interval: one event
            await trio.sleep(2)
            assert _presences(a1.receive) == [(["alice", "bob"], 2)]
            assert _presences(a2.receive) == [(["alice", "bob"], 2)]
            assert hub.presence(S1).watchers == (Watcher("alice", "claude"), Watcher("bob", "gemini"))
            a1.discard(S1)  # alice still watches through a2
            await trio.sleep(2)
            assert _presences(a2.receive) == []
        # Every subscription closed: nobody watches, and nobody is left to tell.
        assert hub.presence(S1).count == 0
        nursery.cancel_scope.cancel()


async def test_a_subscriber_told_in_subscribed_gets_no_event_for_its_own_join(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """One socket following 10,000 sessions must not get 10,000 presence events (nor be cut
    off for them): each `subscribed` already told it who watches."""
    hub = Hub(buffer=256)
    sessions = [f"session_{n:016x}" for n in range(10_000)]
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.announce_presence, 1.0)
        with hub.subscribe(ALICE) as sub, hub.subscribe(BOB) as other:
            other.add(sessions[0])
            other.presence(sessions[0])
            for sid in sessions:
                sub.add(sid)
                assert Watcher("alice", "claude") in sub.presence(sid).watchers
            await trio.sleep(3)
            assert _presences(sub.receive) == []
            assert not sub.dropped
            # The other watcher of session 0 does learn that alice arrived.
            assert _presences(other.receive) == [(["bob", "alice"], 2)]
        nursery.cancel_scope.cancel()


async def test_presence_waits_for_a_busy_subscriber_instead_of_cutting_it_off(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub = Hub(buffer=4)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.announce_presence, 1.0)
        with hub.subscribe(ALICE) as busy, hub.subscribe(BOB) as bob:
            busy.add(S1)
            busy.presence(S1)
            for n in (1, 2, 3):
                hub.publish(Change.typing_update(TypingChange(S1, "x", True, n)))  # 3 of 4 slots
            bob.add(S1)
            await trio.sleep(3)
            assert not busy.dropped
            kinds = [busy.receive.receive_nowait().kind for _ in range(3)]
            assert kinds == ["typing"] * 3  # no presence squeezed in while it was busy
            await trio.sleep(2)  # drained: the news arrives in a later round
            assert _presences(busy.receive) == [(["alice", "bob"], 2)]
        nursery.cancel_scope.cancel()


async def test_identify_moves_presence_to_the_new_identity() -> None:
    hub = Hub(buffer=10)
    with hub.subscribe() as anonymous:
        anonymous.add(S1)
        assert hub.presence(S1).count == 0  # an unidentified subscriber is not a watcher
        anonymous.identify(ALICE)
        assert [w.agent_id for w in hub.presence(S1).watchers] == ["alice"]
        anonymous.identify(BOB)
        assert [w.agent_id for w in hub.presence(S1).watchers] == ["bob"]
    assert hub.presence(S1).count == 0


async def test_shutdown_announces_nothing(autojump_clock: trio.testing.MockClock) -> None:
    """On close the hub ends every channel; a presence event must not mark one as dropped."""
    hub = Hub(buffer=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.announce_presence, 1.0)
        with hub.subscribe(ALICE) as a, hub.subscribe(BOB) as b:
            a.add(S1)
            b.add(S1)
            await trio.sleep(2)
            hub.close()
            await trio.sleep(2)
            assert not a.dropped and not b.dropped
            assert hub.statistics().dropped == 0
        nursery.cancel_scope.cancel()


# -- a real daemon ----------------------------------------------------------------------------


async def _subscribed(running: Running, token: str, sid: str, ws: WebSocketConnection) -> JsonObject:
    await ws_call(ws, "subscribe", "sub", session_id=sid)
    return await next_event(ws, "subscribed")


async def _presence_until(ws: WebSocketConnection, agents: set[str]) -> JsonObject:
    while True:
        event = await next_event(ws, "presence")
        if {w["agent_id"] for w in event["data"]["watchers"]} == agents:
            return event


async def test_presence_comes_with_subscribed_and_changes_as_events(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice", "claude")
        bob = await running.token("bob", "gemini")
        sid = await new_session(running, alice)
        url = running.endpoints.ws_url
        async with open_websocket_url(f"{url}/ws?token={alice}") as wa:
            first = await _subscribed(running, alice, sid, wa)
            assert first["data"]["presence"] == {
                "watchers": [{"agent_id": "alice", "agent_type": "claude"}],
                "count": 1,
            }
            async with open_websocket_url(f"{url}/ws?token={bob}") as wb:
                joined = await _subscribed(running, bob, sid, wb)
                assert joined["data"]["presence"]["count"] == 2
                event = await _presence_until(wa, {"alice", "bob"})
                assert event["session_id"] == sid and event["data"]["count"] == 2
                assert {"agent_id": "bob", "agent_type": "gemini"} in event["data"]["watchers"]
            left = await _presence_until(wa, {"alice"})
            assert left["data"]["count"] == 1


async def test_presence_counts_sse_watchers(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice")
        bob = await running.token("bob")
        sid = await new_session(running, alice)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws?token={alice}") as wa:
            await _subscribed(running, alice, sid, wa)
            async with open_sse(running, sid, {"token": bob}) as sse:
                await _presence_until(wa, {"alice", "bob"})
                while (event := await sse.next()).get("event") != "presence":
                    pass
                assert {w["agent_id"] for w in json.loads(event["data"])["watchers"]} == {"alice", "bob"}
            await _presence_until(wa, {"alice"})


async def test_set_typing_reaches_subscribers_without_touching_messages(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice")
        bob = await running.token("bob")
        sid = await new_session(running, alice)
        mcp = running.mcp()
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={bob}") as wb:
            await next_event(wb, "subscribed")
            started = await mcp.call("set_typing", session_id=sid, typing=True, auth_token=alice)
            assert started["success"] and started["typing"] and started["sent"], started
            event = await next_event(wb, "typing")
            assert event["session_id"] == sid
            assert event["data"] == {
                "session_id": sid,
                "agent_id": "alice",
                "typing": True,
                "expires_at": event["data"]["expires_at"],
            }
            assert abs(_iso_seconds(event["data"]["expires_at"]) - _iso_seconds(started["expires_at"])) < 0.5
            again = await mcp.call("set_typing", session_id=sid, typing=True, auth_token=alice)
            assert again["success"] and not again["sent"] and again["expires_at"] == started["expires_at"]
            stopped = await mcp.call("set_typing", session_id=sid, typing=False, auth_token=alice)
            assert stopped["sent"] and stopped["typing"] is False and stopped["expires_at"] is None
            event = await next_event(wb, "typing", "new_message")
            assert (event["type"], event["data"]["typing"], event["data"]["expires_at"]) == (
                "typing",
                False,
                None,
            )
            await post(running, alice, sid, "done")
            # Posting clears the start; the next start is news at once.
            await next_event(wb, "new_message")
            assert (await mcp.call("set_typing", session_id=sid, auth_token=alice))["sent"]
            assert (await next_event(wb, "typing"))["data"]["typing"] is True
        page = await mcp.call("get_messages", session_id=sid, auth_token=alice)
        assert [m["content"] for m in page["messages"]] == ["done"]


def _iso_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_set_typing_errors_say_what_to_do(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice")
        reader = await running.token("reader", permissions=["read"])
        sid = await new_session(running, alice)
        mcp = running.mcp()
        missing = await mcp.call("set_typing", session_id="session_" + "0" * 16, auth_token=alice)
        assert missing["code"] == "SESSION_NOT_FOUND"
        denied = await mcp.call("set_typing", session_id=sid, auth_token=reader)
        assert denied["success"] is False and denied["code"] == "PERMISSION_DENIED"
        bad = await mcp.call("set_typing", session_id=sid, typing="maybe", auth_token=alice)
        assert bad["code"] == "INVALID_INPUT" and bad["context"]["field"] == "typing", bad
        # Flooding: alternate start and stop until the gate refuses.
        codes = []
        for n in range(40):
            reply = await mcp.call("set_typing", session_id=sid, typing=n % 2 == 0, auth_token=alice)
            codes.append(reply.get("code"))
            if reply.get("code") == "RATE_LIMITED":
                assert "per second" in reply["error"] and reply["recoverable"]
                break
        assert "RATE_LIMITED" in codes
        assert len(codes) <= composing.BURST + 5  # the burst, plus what the rate refilled meanwhile


async def test_typing_over_the_socket_is_acknowledged_and_broadcast(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice")
        bob = await running.token("bob")
        sid = await new_session(running, alice)
        url = running.endpoints.ws_url
        async with (
            open_websocket_url(f"{url}/ws/{sid}?token={alice}") as wa,
            open_websocket_url(f"{url}/ws/{sid}?token={bob}") as wb,
        ):
            await next_event(wa, "subscribed")
            await next_event(wb, "subscribed")
            await ws_call(wa, "typing", "t1", session_id=sid, typing=True)
            ack = await next_event(wa, "typing_set", "error")
            assert (ack["type"], ack["id"], ack["data"]["typing"], ack["data"]["sent"]) == (
                "typing_set",
                "t1",
                True,
                True,
            )
            seen = await next_event(wb, "typing")
            assert (seen["data"]["agent_id"], seen["data"]["typing"]) == ("alice", True)
            await ws_call(wa, "typing", "t2", session_id="session_" + "0" * 16)
            err = await next_event(wa, "typing_set", "error")
            assert (err["type"], err["id"], err["data"]["code"]) == ("error", "t2", "SESSION_NOT_FOUND")
        reader = await running.token("reader", permissions=["read"])
        async with open_websocket_url(f"{url}/ws/{sid}?token={reader}") as wr:
            await next_event(wr, "subscribed")
            await ws_call(wr, "typing", "t3", session_id=sid)
            err = await next_event(wr, "typing_set", "error")
            assert (err["type"], err["id"], err["data"]["code"]) == ("error", "t3", "PERMISSION_DENIED")


async def test_typing_from_another_process_is_delivered(running: Running) -> None:
    """`scsd stdio` writes the start to the change log; the daemon's watcher delivers it."""
    with trio.fail_after(60):
        bob = await running.token("bob")
        sid = await new_session(running, bob)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={bob}") as wb:
            await next_event(wb, "subscribed")
            replies = await stdio_client(running, "cli-agent").calls([("set_typing", {"session_id": sid})])
            assert replies[0]["success"] and replies[0]["sent"], replies
            event = await next_event(wb, "typing")
    assert (event["data"]["agent_id"], event["data"]["typing"]) == ("cli-agent", True)


async def test_the_typing_migration_keeps_the_change_log(tmp_path: Path) -> None:
    """A schema-3 database (before typing) keeps its change-log rows and id sequence."""
    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path)
    for steps in schema.MIGRATIONS[:3]:
        for step in steps:
            step(conn) if callable(step) else conn.execute(step)
    conn.execute("PRAGMA user_version = 3")
    conn.execute(
        "INSERT INTO change_log (kind, session_id, action, timestamp) VALUES ('session', 's', 'x', 1)"
    )
    conn.execute(
        "INSERT INTO change_log (kind, session_id, action, timestamp) VALUES ('session', 's', 'y', 2)"
    )
    conn.execute("DELETE FROM change_log WHERE action = 'y'")  # swept from the tail
    conn.commit()
    conn.close()
    async with open_store(path) as store:
        sid = (await store.create_session("p", "a", {})).id
        reply = await TypingSignals(store, Gate()).signal(
            Identity("a", "claude", frozenset({"write"})), sid, True
        )
        assert reply["sent"]
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id, kind, action FROM change_log ORDER BY id").fetchall()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    finally:
        conn.close()
    assert rows == [(1, "session", "x"), (3, "session", "created"), (4, "typing", "start")]


def test_change_log_kinds_are_still_checked(tmp_path: Path) -> None:
    """The rebuilt table keeps its CHECK: an unknown kind is refused."""
    path = tmp_path / "db"
    conn = sqlite3.connect(path)
    schema.migrate(conn, str(path))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO change_log (kind, session_id, action, timestamp) VALUES ('bogus', 's', 'x', 1)"
        )
    conn.close()
