"""`GET /ui/sessions/{id}/events` (docs/realtime.md, "Server-Sent Events fallback") against a
real daemon, read with httpx streaming under trio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from scsd.config import Config
from tests.kit.clients import open_sse
from tests.kit.daemon import Running, make_config, new_session, post

HEARTBEAT_FIELD = "sse_heartbeat_seconds"
MESSAGE_KEYS = {"id", "session_id", "sender", "sender_type", "content", "visibility", "message_type"}
MESSAGE_KEYS |= {"metadata", "timestamp", "parent_message_id"}
Event = dict[str, str]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Keep-alive comments every 0.2 s where the interval is configurable (they're skipped
    by every test but the one about them)."""
    fast = {HEARTBEAT_FIELD: 0.2} if HEARTBEAT_FIELD in Config.__dataclass_fields__ else {}
    return make_config(tmp_path, **fast)


def _messages(events: list[Event]) -> list[tuple[int, dict[str, object]]]:
    return [(int(e["id"]), json.loads(e["data"])) for e in events if e.get("event") == "new_message"]


@pytest.mark.parametrize("how", ["query", "bearer"])
async def test_stream_authenticated_by_query_token_or_bearer(running: Running, how: str) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice")
        sid = await new_session(running, alice)
        params, headers = (
            ({"token": alice}, {}) if how == "query" else (None, {"Authorization": f"Bearer {alice}"})
        )
        async with open_sse(running, sid, params, **headers) as sse:
            assert sse.response.status_code == 200
            assert sse.response.headers["content-type"].startswith("text/event-stream")
            message_id = await post(running, alice, sid, "hello")
            events = await sse.until("hello")
            while not any(e.get("event") == "session_update" for e in events):
                events.append(await sse.next())
    [(event_id, message)] = _messages(events)
    assert event_id == message["id"] == message_id
    assert set(message) == MESSAGE_KEYS
    assert (message["content"], message["sender"], message["session_id"]) == ("hello", "alice", sid)
    updates = [e for e in events if e.get("event") == "session_update"]
    assert all("id" not in e for e in updates)  # only message ids may move Last-Event-ID
    assert json.loads(updates[0]["data"])["id"] == sid


@pytest.mark.parametrize("case", ["no token", "bad token", "foreign origin", "unknown session", "ui origin"])
async def test_refusals_are_plain_http(running: Running, case: str) -> None:
    alice = await running.token("alice")
    sid = await new_session(running, alice)
    params = {"token": "forged" if case == "bad token" else alice} if case != "no token" else None
    headers = {
        "foreign origin": {"Origin": "http://evil.example"},
        "ui origin": {"Origin": running.endpoints.http_url},
    }.get(case, {})
    if case == "unknown session":
        sid = "session_0123456789abcdef"
    expected = {"no token": 401, "bad token": 401, "foreign origin": 403, "unknown session": 404}.get(
        case, 200
    )
    with trio.fail_after(20):
        async with open_sse(running, sid, params, **headers) as sse:
            status = sse.response.status_code
            content_type = sse.response.headers.get("content-type", "")
    assert status == expected
    assert content_type.startswith("text/event-stream") == (expected == 200)


@pytest.mark.parametrize("resume", ["Last-Event-ID", "since_id"])
async def test_resume_replays_what_was_missed_once_and_in_order(running: Running, resume: str) -> None:
    """Messages keep arriving while the stream replays: none lost, none twice, id order;
    another agent's private messages are skipped."""
    with trio.fail_after(40):
        alice = await running.token("alice", "claude")
        bob = await running.token("bob", "gemini")
        sid = await new_session(running, alice)
        seen_last = await post(running, alice, sid, "already seen")
        visible = [await post(running, alice, sid, f"missed {n}") for n in range(10)]
        await post(running, bob, sid, "bob's secret", "private")
        params = {"token": alice} | ({"since_id": str(seen_last)} if resume == "since_id" else {})
        headers = {"Last-Event-ID": str(seen_last)} if resume == "Last-Event-ID" else {}
        async with trio.open_nursery() as nursery, open_sse(running, sid, params, **headers) as sse:

            async def write_more() -> None:
                for n in range(20):
                    visible.append(await post(running, alice, sid, f"live {n}"))
                    if n % 5 == 0:
                        await post(running, bob, sid, f"secret {n}", "private")
                visible.append(await post(running, alice, sid, "end"))

            nursery.start_soon(write_more)
            events = await sse.until("end")
    assert [event_id for event_id, _ in _messages(events)] == visible


async def test_visibility_is_the_tools_rule(running: Running) -> None:
    """bob (another type) sees public only; carol (alice's type) also agent_only; replayed and live."""
    with trio.fail_after(40):
        alice = await running.token("alice", "claude")
        root = await running.token("root", admin=True, permissions=["read", "write", "admin"])
        readers = {
            "bob": await running.token("bob", "gemini"),
            "carol": await running.token("carol", "claude"),
        }
        sid = await new_session(running, alice)

        async def post_all(tag: str) -> None:
            for level in ("public", "private", "agent_only"):
                await post(running, alice, sid, f"{tag} {level}", level)
            await post(running, root, sid, f"{tag} admin_only", "admin_only")
            await post(running, alice, sid, f"{tag} end")

        await post_all("old")
        seen: dict[str, list[Event]] = {}
        opened = trio.Semaphore(0)

        async def read(name: str) -> None:
            async with open_sse(running, sid, {"token": readers[name], "since_id": "0"}) as sse:
                assert sse.response.status_code == 200
                opened.release()
                seen[name] = await sse.until("new end")

        async with trio.open_nursery() as nursery:
            for name in readers:
                nursery.start_soon(read, name)
            for _ in readers:
                await opened.acquire()
            await post_all("new")
    levels = {name: [m["visibility"] for _, m in _messages(events)] for name, events in seen.items()}
    assert levels["bob"] == ["public", "public"] * 2
    assert levels["carol"] == ["public", "agent_only", "public"] * 2


@pytest.mark.parametrize("stream", ["session", "all sessions"])
async def test_keep_alive_comment_on_an_idle_stream(running: Running, stream: str) -> None:
    if HEARTBEAT_FIELD not in Config.__dataclass_fields__:
        pytest.skip("the keep-alive interval is not configurable (15 s is too slow to wait for)")
    with trio.fail_after(20):
        alice = await running.token("alice")
        sid = await new_session(running, alice) if stream == "session" else "*"
        async with open_sse(running, sid, {"token": alice}) as sse:
            comment = await sse.next(comments=True)
            while "comment" not in comment:
                comment = await sse.next(comments=True)
    assert comment["comment"] == "keep-alive"


async def test_stream_opens_with_who_is_watching(running: Running) -> None:
    """The SSE counterpart of `subscribed`'s presence: the first event lists the watchers,
    this stream's own identity included, even when its joining is no news to anyone."""
    with trio.fail_after(20):
        alice = await running.token("alice", "gemini")
        sid = await new_session(running, alice)
        async with open_sse(running, sid, {"token": alice}) as already:
            await already.named()  # alice watches from now on
            async with open_sse(running, sid, {"token": alice}) as sse:
                first = None
                with trio.move_on_after(5):  # nobody joined or left: only the opening tells
                    first = await sse.named()
    assert first is not None and first["event"] == "presence" and "id" not in first
    alice_watches = {"watchers": [{"agent_id": "alice", "agent_type": "gemini"}], "count": 1}
    assert json.loads(first["data"]) == alice_watches


async def test_all_sessions_stream_sends_every_session_update(running: Running) -> None:
    """`/ui/events`: new sessions and new activity in any session, as `session_update`s
    without ids; messages themselves are not part of it."""
    with trio.fail_after(30):
        alice, bob = await running.token("alice"), await running.token("bob", "gemini")
        async with open_sse(running, "*", {"token": alice}) as sse:
            assert sse.response.status_code == 200
            assert sse.response.headers["content-type"].startswith("text/event-stream")
            sid = await new_session(running, bob)  # someone else's session: alice sees it too
            created = await sse.named()
            await post(running, bob, sid, "activity", "private")
            bumped = await sse.named()
    for event in (created, bumped):
        assert event["event"] == "session_update" and "id" not in event
    first, second = json.loads(created["data"]), json.loads(bumped["data"])
    assert (first["id"], first["purpose"], first["created_by"]) == (sid, "test", "bob")
    assert second["id"] == sid and second["updated_at"] > first["updated_at"]
    assert "activity" not in bumped["data"]  # a private message's content never travels here


@pytest.mark.parametrize("case", ["no token", "bad token", "foreign origin", "ui origin", "cookie"])
async def test_all_sessions_stream_refusals_are_plain_http(running: Running, case: str) -> None:
    alice = await running.token("alice")
    params = {"no token": None, "bad token": {"token": "forged"}, "cookie": None}.get(case, {"token": alice})
    headers = {
        "foreign origin": {"Origin": "http://evil.example"},
        "ui origin": {"Origin": running.endpoints.http_url},
        "cookie": {"Cookie": await trio.to_thread.run_sync(_ui_cookie, running)},
    }.get(case, {})
    expected = {"no token": 401, "bad token": 401, "foreign origin": 403}.get(case, 200)
    with trio.fail_after(20):
        async with open_sse(running, "*", params, **headers) as sse:
            status = sse.response.status_code
            content_type = sse.response.headers.get("content-type", "")
    assert status == expected
    assert content_type.startswith("text/event-stream") == (expected == 200)


def _ui_cookie(running: Running) -> str:
    """The `Cookie:` header of a browser signed in to the Web UI."""
    from tests.kit.ui import http_client as client
    from tests.kit.ui import sign_in

    with client(running) as c:
        sign_in(c, running.secrets["api_key"], "viewer")
        return f"scsd_ui={c.cookies['scsd_ui']}"
