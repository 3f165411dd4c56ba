"""Several daemons on one database: two real `python -m scsd serve` processes on their own
ports share one data dir (secrets and SQLite file). A write through either reaches the
WebSocket subscribers of both, exactly once, in id order; session, memory and revocation
changes cross over too. Both start at the same moment on a fresh data dir, so the first-start
races (secrets file, schema migration) run every time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from tests.kit.crash import (
    HTTP_TIMEOUT_SECONDS,
    POLL_SECONDS,
    READY_LINE,
    START_SECONDS,
    Daemon,
    McpClient,
    call_once,
    create_session,
    mint_token,
    spawn_daemon,
)

pytestmark = pytest.mark.slow  # real daemons and subprocesses

MESSAGES: Final = 300  # written alternately: half through each daemon, concurrently
RUN_SECONDS: Final = 120.0


@asynccontextmanager
async def two_daemons(tmp_path: Path) -> AsyncIterator[tuple[Daemon, Daemon]]:
    """Two daemons on one fresh data dir, started together; both ready on their own ports."""
    data = tmp_path / "data"
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(spawn_daemon(data, tmp_path / "a.log", wait_ready=False))
        b = await stack.enter_async_context(spawn_daemon(data, tmp_path / "b.log", wait_ready=False))
        with trio.fail_after(START_SECONDS):
            async with trio.open_nursery() as nursery:
                for daemon in (a, b):
                    nursery.start_soon(_wait_ready, daemon)
        assert {a.http_port, a.ws_port}.isdisjoint({b.http_port, b.ws_port})
        yield a, b


async def _wait_ready(daemon: Daemon) -> None:
    match = await daemon.wait_log(READY_LINE)
    daemon.http_port, daemon.ws_port = int(match[1]), int(match[2])


@dataclass
class Subscriber:
    """One WebSocket connection, subscribed to some sessions; keeps every event it gets."""

    name: str
    events: list[dict[str, Any]] = field(default_factory=list)
    _news: trio.lowlevel.ParkingLot = field(default_factory=trio.lowlevel.ParkingLot)

    async def run(
        self, daemon: Daemon, token: str, sessions: list[str], *, task_status: trio.TaskStatus[None]
    ) -> None:
        """`started()` once every subscription is confirmed; then records events until cancelled."""
        async with open_websocket_url(f"{daemon.ws_url}?token={token}") as ws:
            for sid in sessions:
                await ws.send_message(json.dumps({"tool": "subscribe", "arguments": {"session_id": sid}}))
                while (event := json.loads(await ws.get_message()))["type"] != "subscribed":
                    assert event["type"] != "error", event
            task_status.started()
            while True:
                event = json.loads(await ws.get_message())
                if event["type"] != "ping":
                    self.events.append(event)
                    self._news.unpark_all()

    def message_ids(self) -> list[int]:
        return [int(e["data"]["id"]) for e in self.events if e["type"] == "new_message"]

    async def wait_until(self, condition: Callable[[list[dict[str, Any]]], bool]) -> None:
        """Return once `condition(events)` holds (the caller sets the deadline)."""
        while not condition(self.events):
            await self._news.park()


def _has(kind: str, **data: Any) -> Callable[[list[dict[str, Any]]], bool]:
    def found(events: list[dict[str, Any]]) -> bool:
        return any(e["type"] == kind and all(e["data"].get(k) == v for k, v in data.items()) for e in events)

    return found


async def _write(
    daemon: Daemon,
    token: str,
    sid: str,
    label: str,
    count: int,
    acked: list[int],
    behind: list[int] | None = None,
    news: trio.Condition | None = None,
) -> None:
    """`count` add_message calls through `daemon`, one MCP session, each acknowledged id kept.
    With `behind` (another writer's acks) and `news`, never more than one write ahead of that
    writer: two of them interleave for sure, however the machine schedules them."""
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
        mcp = McpClient(client, daemon.mcp_url, token)
        await mcp.open()
        for n in range(count):
            if behind is not None and news is not None:
                async with news:
                    while len(behind) < n:
                        await news.wait()
            reply = await mcp.call("add_message", session_id=sid, content=f"{label} {n}")
            assert reply["success"], reply
            acked.append(int(reply["message_id"]))
            if news is not None:
                async with news:
                    news.notify_all()


async def test_writes_through_either_daemon_reach_subscribers_of_both_once_in_order(tmp_path: Path) -> None:
    async with two_daemons(tmp_path) as (a, b), trio.open_nursery() as nursery:
        token = mint_token(tmp_path / "data", "alice")
        with trio.fail_after(RUN_SECONDS):
            sid = await create_session(a.mcp_url, token)
            subscribers = [Subscriber(f"{d}{i}") for d in "ab" for i in range(2)]
            for sub in subscribers:
                await nursery.start(sub.run, a if sub.name[0] == "a" else b, token, [sid])
            through_a: list[int] = []
            through_b: list[int] = []
            news = trio.Condition()
            async with trio.open_nursery() as writers:
                writers.start_soon(_write, a, token, sid, "via a", MESSAGES // 2, through_a, through_b, news)
                writers.start_soon(_write, b, token, sid, "via b", MESSAGES // 2, through_b, through_a, news)
            # A last message through b: anything delivered twice would have come before it.
            last: list[int] = []
            await _write(b, token, sid, "last", 1, last)
            for sub in subscribers:
                await sub.wait_until(lambda events, sub=sub: last[0] in sub.message_ids())
        nursery.cancel_scope.cancel()
    # Each writer's ids increase (one connection, one at a time), and both really interleaved.
    assert through_a == sorted(through_a) and through_b == sorted(through_b)
    assert min(through_b) < max(through_a) and min(through_a) < max(through_b)
    expected = sorted(through_a + through_b) + last
    assert len(set(expected)) == MESSAGES + 1
    for sub in subscribers:
        assert sub.message_ids() == expected, sub.name
        contents = [e["data"]["content"] for e in sub.events if e["type"] == "new_message"]
        assert [c for c in contents if c.startswith("via a")] == [f"via a {n}" for n in range(MESSAGES // 2)]


async def test_session_and_memory_updates_cross_over(tmp_path: Path) -> None:
    async with two_daemons(tmp_path) as (a, b), trio.open_nursery() as nursery:
        token = mint_token(tmp_path / "data", "alice")
        with trio.fail_after(RUN_SECONDS):
            sid = await create_session(a.mcp_url, token)
            latest = 0  # the newest message id in `sid`
            for writer, reader in ((a, b), (b, a)):
                feed, session = Subscriber("dashboard"), Subscriber("session")
                await nursery.start(feed.run, reader, token, ["*"])
                await nursery.start(session.run, reader, token, [sid])
                # A new session created through one daemon shows on the other's dashboard feed.
                new_sid = await create_session(writer.mcp_url, token)
                await feed.wait_until(_has("session_update", id=new_sid))
                # Session-scoped memory set and deleted through one reaches its owner on the other.
                key = f"plan-{writer.http_port}"
                await call_once(writer.mcp_url, token, "set_memory", key=key, value=[1, 2], session_id=sid)
                await session.wait_until(_has("memory_update", key=key, action="set", session_id=sid))
                await call_once(writer.mcp_url, token, "delete_memory", key=key, session_id=sid)
                await session.wait_until(_has("memory_update", key=key, action="deleted"))
                # An agent waiting on one daemon wakes for a message written through the other.
                async with trio.open_nursery() as waiting:
                    woken: list[dict[str, Any]] = []
                    waiting.start_soon(_wait_for_messages, reader, token, sid, latest, woken)
                    await _until_waiting(reader)
                    await call_once(writer.mcp_url, token, "add_message", session_id=sid, content="hi")
                assert [m["content"] for m in woken[0]["messages"]] == ["hi"]
                latest = woken[0]["messages"][-1]["id"]
                # New activity in the session: a session_update alongside the message.
                await session.wait_until(_has("session_update", id=sid))
        nursery.cancel_scope.cancel()


async def _wait_for_messages(
    daemon: Daemon, token: str, sid: str, since_id: int, into: list[dict[str, Any]]
) -> None:
    args = {"session_id": sid, "since_id": since_id, "timeout_seconds": 60}
    into.append(await call_once(daemon.mcp_url, token, "wait_for_messages", **args))


async def _until_waiting(daemon: Daemon) -> None:
    """Until `daemon` has a hub subscriber besides the two WebSockets: the waiting call."""
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
        while True:
            health = (await client.get(f"http://127.0.0.1:{daemon.http_port}/health")).json()
            if health["hub"]["subscribers"] > health["websocket"]["connections"]:
                return
            await trio.sleep(POLL_SECONDS)


async def test_tokens_and_revocations_hold_on_both(tmp_path: Path) -> None:
    """One secrets file (created once, however the first start raced) and one revocation
    list: a token refreshed through one daemon is refused by the other at once."""
    async with two_daemons(tmp_path) as (a, b):
        data = tmp_path / "data"
        assert sorted(p.name for p in data.iterdir() if "secrets" in p.name) == ["secrets.json"]
        with trio.fail_after(RUN_SECONDS):
            old = mint_token(data, "carol")
            await call_once(b.mcp_url, old, "list_sessions")
            refreshed = await call_once(a.mcp_url, old, "refresh_token", current_token=old)
            await call_once(b.mcp_url, str(refreshed["token"]), "list_sessions")  # issued by a
            with pytest.raises(AssertionError, match="TOKEN_AUTHENTICATION_FAILED"):
                await call_once(b.mcp_url, old, "list_sessions")


async def test_an_mcp_session_lives_in_the_daemon_that_opened_it(tmp_path: Path) -> None:
    """Streamable HTTP sessions are held in memory by the daemon that created them, so a
    load balancer must send each MCP client back to the same daemon (docs/deploy.md)."""
    async with two_daemons(tmp_path) as (a, b):
        token = mint_token(tmp_path / "data", "dave")
        headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {token}"}
        init = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        }
        call = {"name": "list_sessions", "arguments": {}}
        with trio.fail_after(RUN_SECONDS):
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, headers=headers) as client:
                opened = await client.post(a.mcp_url, json=_rpc("initialize", init, 1))
                assert opened.status_code == 200, opened.text
                headers = {"mcp-session-id": opened.headers["mcp-session-id"]}
                done = await client.post(a.mcp_url, json=_rpc("notifications/initialized"), headers=headers)
                assert done.status_code == 202, done.text
                here = await client.post(a.mcp_url, json=_rpc("tools/call", call, 2), headers=headers)
                elsewhere = await client.post(b.mcp_url, json=_rpc("tools/call", call, 3), headers=headers)
    assert here.status_code == 200 and '"success"' in here.text, here.text
    assert elsewhere.status_code == 404, elsewhere.text


def _rpc(method: str, params: dict[str, Any] | None = None, call_id: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        body["params"] = params
    if call_id is not None:
        body["id"] = call_id
    return body
