"""Delivery guarantees under load (docs/realtime.md): clients that reconnect at random points
with `since_id` end with every message they may see, once, in order; a stalled reader is cut
off with 4001 while everyone else keeps receiving."""

from __future__ import annotations

import json
import random

import httpx
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.kit.clients import add_call, next_event, raw_drain, raw_open
from tests.kit.daemon import Running

DONE = "DONE"
CLOSE_RESYNC = 4001
# Alice writes BATCHES x 100 messages (10 of each 100 private), bob BATCHES/9 x 100 private
# ones: 5,000 messages in all.
BATCHES = 45


async def _follow(url: str, sid: str, rng: random.Random | None = None) -> tuple[list[int], int, int]:
    """Follow `sid` until the DONE message: reconnect (after a random number of messages if
    `rng`, or when cut off with 4001) and resubscribe with since_id = the last id received.
    Returns the ids received, the number of connections and of 4001 cut-offs."""
    ids: list[int] = []
    connections = cut_offs = 0
    while True:
        connections += 1
        budget = rng.randint(0, 120) if rng else -1
        try:
            async with open_websocket_url(url) as ws:
                since = ids[-1] if ids else 0
                args = {"session_id": sid, "since_id": since}
                await ws.send_message(json.dumps({"tool": "subscribe", "arguments": args}))
                await next_event(ws, "subscribed")
                while budget != 0:
                    event = (await next_event(ws, "new_message"))["data"]
                    ids.append(event["id"])
                    if event["content"] == DONE:
                        return ids, connections, cut_offs
                    budget -= 1
        except ConnectionClosed as e:
            if e.reason.code != CLOSE_RESYNC:
                raise
            cut_offs += 1


def _level(i: int) -> str:
    return "agent_only" if i % 10 == 3 else "private" if i % 10 == 7 else "public"


async def test_reconnecting_clients_end_with_exactly_what_they_may_see(running: Running) -> None:
    """5,000 messages (some private to their sender, some agent_only) while 20 clients drop
    their socket at random points and resubscribe with since_id."""
    with trio.fail_after(600):
        alice = await running.token("alice", "claude")
        bob = await running.token("bob", "gemini")
        reader = await running.token("reader", "claude")
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="load", auth_token=alice))["session_id"]
        url = f"{running.endpoints.ws_url}/ws?token={reader}"
        visible: list[int] = []
        results: dict[int, tuple[list[int], int, int]] = {}

        async def client(n: int) -> None:
            results[n] = await _follow(url, sid, random.Random(n))

        async def alice_writes(batches: range) -> None:
            for batch in batches:
                calls = [add_call(alice, sid, f"a{batch}.{i}", _level(i)) for i in range(100)]
                for (_, args), reply in zip(calls, await mcp.calls(calls), strict=True):
                    assert reply["success"], reply
                    if args["visibility"] != "private":  # alice's private: hers alone
                        visible.append(reply["message_id"])

        async def bob_writes() -> None:
            for batch in range(BATCHES // 9 * 2):
                calls = [add_call(bob, sid, f"b{batch}.{i}", "private") for i in range(50)]
                assert all(r["success"] for r in await mcp.calls(calls))

        async with trio.open_nursery() as nursery:
            for n in range(20):
                nursery.start_soon(client, n)
            async with trio.open_nursery() as writers:
                for first in range(3):  # three MCP sessions at once: their ids interleave
                    writers.start_soon(alice_writes, range(first, BATCHES, 3))
                writers.start_soon(bob_writes)
            done = await mcp.call("add_message", session_id=sid, content=DONE, auth_token=alice)
            visible.append(done["message_id"])
    expected = sorted(visible)
    assert len(expected) == BATCHES * 90 + 1
    for n, (ids, connections, _) in sorted(results.items()):
        assert ids == expected, f"client {n}: {len(ids)} ids, {len(set(ids))} distinct"
        assert connections > 2, f"client {n} never reconnected"


async def _dropped(running: Running) -> int:
    async with httpx.AsyncClient() as client:
        health = (await client.get(f"{running.endpoints.http_url}/health")).json()
    return int(health["hub"]["dropped"])


async def test_stalled_reader_is_cut_off_while_fifty_others_get_everything(running: Running) -> None:
    """The stalled socket's TCP buffers fill with its own big private messages; then public
    messages pile up in its 256-event buffer until the hub cuts it off. The 50 others
    (who cannot see those private messages) receive every public message, once, in order."""
    with trio.fail_after(90):
        alice = await running.token("alice", "claude")
        staller = await running.token("staller", "claude")
        reader = await running.token("reader", "claude")
        mcp = running.mcp()
        sid = (await mcp.call("create_session", purpose="stall", auth_token=alice))["session_id"]
        stream, conn = await raw_open(running.endpoints.ws_port, f"/ws/{sid}?token={staller}")
        url = f"{running.endpoints.ws_url}/ws?token={reader}"
        results: list[tuple[list[int], int, int]] = []
        public: list[int] = []
        stalled: list[tuple[list[int], int | None]] = []

        async def follower() -> None:
            results.append(await _follow(url, sid))

        async def drain_staller() -> None:
            stalled.append(await raw_drain(stream, conn))

        async with trio.open_nursery() as nursery:
            for _ in range(50):
                nursery.start_soon(follower)
            big = [add_call(staller, sid, f"{n} " + "x" * 90_000, "private") for n in range(8)]
            rounds = 0
            while await _dropped(running) - sum(r[2] for r in results) < 1:
                assert rounds < 15, "the stalled reader was never cut off"
                rounds += 1
                small = [add_call(alice, sid, f"r{rounds}.{i}") for i in range(60)]
                replies = await mcp.calls(big + small)
                assert all(r["success"] for r in replies), replies
                public.extend(r["message_id"] for r in replies[len(big) :])
            nursery.start_soon(drain_staller)  # read again: the backlog, then the close frame
            public.append(
                (await mcp.call("add_message", session_id=sid, content=DONE, auth_token=alice))["message_id"]
            )
    [(staller_ids, code)] = stalled
    assert code == CLOSE_RESYNC
    assert public[-1] not in staller_ids
    assert len(results) == 50
    for ids, _, _ in results:
        assert ids == public
