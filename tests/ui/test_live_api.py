"""The live pages' JSON reads (scsd.ui.live_api) over plain HTTP: sign-in and CSRF header
required, visibility obeyed in counts, participants and messages."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import trio
from trio_websocket import open_websocket_url

from scsd.model import Identity
from scsd.store import open_store
from tests.kit.clients import next_event
from tests.kit.daemon import Running
from tests.kit.ui import http_client, in_thread, sign_in, signed_in


async def test_api_needs_sign_in_and_the_csrf_header(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="p", auth_token=alice))["session_id"]
    paths = ("/ui/api/sessions", f"/ui/api/sessions/{sid}/summary", f"/ui/api/sessions/{sid}/messages")

    def run() -> None:
        with http_client(running) as c:
            for path in paths:
                assert c.get(path).status_code == 401, path
        with http_client(running) as c:
            sign_in(c, running.secrets["api_key"], "bob")
            for path in paths:
                assert c.get(path).status_code == 403, path
                assert c.get(path, headers={"X-CSRF-Token": "x" * 43}).status_code == 403, path
        with signed_in(running, running.secrets["api_key"], "bob") as c:
            for path in paths:
                r = c.get(path)
                assert r.status_code == 200 and r.headers["cache-control"] == "no-store", path

    await in_thread(run)


async def test_summaries_count_only_what_the_viewer_may_see(running: Running) -> None:
    alice, carol = await running.token("alice"), await running.token("carol", "gemini")
    mcp = running.mcp()
    sid = (await mcp.call("create_session", purpose="counted", auth_token=alice))["session_id"]
    await mcp.call("add_message", session_id=sid, content="a", auth_token=alice)
    await mcp.call("add_message", session_id=sid, content="c", visibility="private", auth_token=carol)
    await mcp.call("add_message", session_id=sid, content="g", visibility="agent_only", auth_token=carol)
    await mcp.call("add_message", session_id=sid, content="a2", auth_token=alice)

    def summary(key: str, agent_id: str, agent_type: str) -> dict[str, Any]:
        with signed_in(running, key, agent_id, agent_type) as c:
            body: dict[str, Any] = c.get(f"/ui/api/sessions/{sid}/summary").json()
            listed = c.get("/ui/api/sessions").json()["sessions"]
            assert [s for s in listed if s["id"] == sid] == [body]
            page = c.get("/ui/").text
            assert f">{body['message_count']}</td>" in page  # the dashboard shows the same count
            return body

    bob = await in_thread(lambda: summary(running.secrets["api_key"], "bob", "claude"))
    assert bob["purpose"] == "counted" and bob["message_count"] == 2
    assert bob["participants"] == ["alice"] and bob["participants_partial"] is False
    gemini = await in_thread(lambda: summary(running.secrets["api_key"], "gem", "gemini"))
    assert gemini["message_count"] == 3 and gemini["participants"] == ["alice", "carol"]
    admin = await in_thread(lambda: summary(running.secrets["admin_key"], "", ""))
    assert admin["message_count"] == 4 and admin["participants"] == ["alice", "carol"]


async def test_sessions_updated_after_and_messages_since_id(running: Running) -> None:
    alice = await running.token("alice")
    mcp = running.mcp()
    first = (await mcp.call("create_session", purpose="first", auth_token=alice))["session_id"]
    second = (await mcp.call("create_session", purpose="second", auth_token=alice))["session_id"]
    ids = [(await mcp.call("add_message", session_id=first, content=f"m{n}", auth_token=alice))["message_id"]
           for n in range(3)]  # fmt: skip

    def run() -> None:
        with signed_in(running, running.secrets["api_key"], "bob") as c:
            listed = c.get("/ui/api/sessions").json()["sessions"]
            assert [s["id"] for s in listed] == [first, second]  # newest activity first
            after = listed[1]["updated_at"]
            newer = c.get("/ui/api/sessions", params={"updated_after": after}).json()["sessions"]
            assert [s["id"] for s in newer] == [first]
            latest = c.get("/ui/api/sessions", params={"updated_after": listed[0]["updated_at"]}).json()
            assert latest["sessions"] == []
            assert c.get("/ui/api/sessions", params={"updated_after": "yesterday"}).status_code == 400

            page = c.get(f"/ui/api/sessions/{first}/messages", params={"since_id": ids[0]}).json()
            assert [m["content"] for m in page["messages"]] == ["m1", "m2"] and page["more"] is False
            assert c.get(f"/ui/api/sessions/{first}/messages", params={"since_id": "x"}).status_code == 400
            missing = "session_0000000000000000"
            assert c.get(f"/ui/api/sessions/{missing}/messages").status_code == 404
            assert c.get(f"/ui/api/sessions/{missing}/summary").status_code == 404
            assert c.get("/ui/api/sessions/not-a-session/summary").status_code == 404

    await in_thread(run)


async def test_participants_are_exact_beyond_the_newest_messages_and_capped(running: Running) -> None:
    """A sender whose only message is older than 600 others still counts; sixty senders are
    listed as the fifty most recent plus the exact total; hidden senders never count."""
    rw = frozenset({"read", "write"})
    mcp = running.mcp()
    alice = await running.token("alice")
    long = (await mcp.call("create_session", purpose="long", auth_token=alice))["session_id"]
    crowd = (await mcp.call("create_session", purpose="crowd", auth_token=alice))["session_id"]
    with trio.fail_after(60):
        async with open_store(running.config.database) as store:  # a second writer, as `scsd stdio`

            async def post(sid: str, agent: str, agent_type: str = "claude", level: str = "public") -> None:
                await store.add_message(sid, Identity(agent, agent_type, rw), "hi", level, {}, None)

            await post(long, "early")
            for _ in range(600):
                await post(long, "alice")
            for n in range(60):
                await post(crowd, f"agent{n:02}")
            await post(crowd, "secret", "gemini", "private")

    def run() -> tuple[dict[str, Any], dict[str, Any], str]:
        with signed_in(running, running.secrets["api_key"], "bob") as c:
            return (
                c.get(f"/ui/api/sessions/{long}/summary").json(),
                c.get(f"/ui/api/sessions/{crowd}/summary").json(),
                c.get("/ui/").text,
            )

    first, second, dashboard = await in_thread(run)
    assert first["participants"] == ["alice", "early"] and first["participants_total"] == 2
    assert first["participants_partial"] is False and first["message_count"] == 601
    assert second["participants"] == [f"agent{n:02}" for n in range(59, 9, -1)]  # newest 50
    assert second["participants_total"] == 60 and second["participants_partial"] is True
    assert second["message_count"] == 60  # the private message is not bob's to see
    assert "agent59, agent58, agent57, agent56, agent55 +55 more" in dashboard


async def test_typing_endpoint_signals_subscribers_with_write_permission_only(running: Running) -> None:
    """The post form's typing signal without a WebSocket: cookie + CSRF header, write
    permission, the subscribers' `typing` events, and 429 when flooded."""
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="typing", auth_token=alice))["session_id"]
    path = f"/ui/api/sessions/{sid}/typing"

    def post(c: httpx.Client, body: object, where: str = path) -> httpx.Response:
        return c.post(where, json=body)

    def refusals() -> None:
        with http_client(running) as c:
            assert c.post(path, json={"typing": True}).status_code == 401
        with http_client(running) as c:
            sign_in(c, running.secrets["api_key"], "writer")
            assert c.post(path, json={"typing": True}).status_code == 403  # no CSRF header
        with signed_in(running, running.secrets["api_key"], "looker", "generic") as c:
            r = post(c, {"typing": True})
            assert r.status_code == 403 and "write permission" in r.json()["error"]
        with signed_in(running, running.secrets["api_key"], "writer") as c:
            assert post(c, {"typing": "yes"}).status_code == 400
            assert post(c, ["typing"]).status_code == 400
            missing = "/ui/api/sessions/session_0000000000000000/typing"
            assert post(c, {"typing": True}, missing).status_code == 404

    await in_thread(refusals)
    with trio.fail_after(30):
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={alice}") as ws:
            await next_event(ws, "subscribed")
            with contextlib.ExitStack() as stack:  # signed in on a thread: httpx here is blocking
                c = await in_thread(
                    lambda: stack.enter_context(signed_in(running, running.secrets["api_key"], "writer"))
                )
                start = await in_thread(lambda: post(c, {"typing": True}))
                assert start.status_code == 200 and start.headers["cache-control"] == "no-store"
                assert start.json()["typing"] is True and start.json()["sent"] is True
                event = await next_event(ws, "typing")
                assert event["data"]["agent_id"] == "writer" and event["data"]["typing"] is True
                assert event["data"]["expires_at"] == start.json()["expires_at"]
                stop = await in_thread(lambda: post(c, {"typing": False}))
                assert stop.json() == {"typing": False, "expires_at": None, "sent": True}
                assert (await next_event(ws, "typing"))["data"]["typing"] is False

                def flood() -> httpx.Response:
                    for n in range(40):
                        r = post(c, {"typing": n % 2 == 0})
                        if r.status_code != 200:
                            return r
                    raise AssertionError("40 typing changes in a row were all accepted")

                limited = await in_thread(flood)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json()["code"] == "RATE_LIMITED" and "per second" in limited.json()["error"]
