"""wait_for_messages, and concurrent writers, through real fastmcp clients over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import trio
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from tests.kit.daemon import Running, new_session

MISSING = "session_ffffffffffffffff"


async def _wait_when_ready(running: Running, ready: trio.Event, **args: Any) -> dict[str, Any]:
    """Open an MCP session, set `ready` once it is initialized, then call wait_for_messages.

    The poster waits for `ready`, so the message is (almost always) written while the wait is
    blocked; if it lands first, the wait returns at once, which is also correct.
    """

    async def session() -> dict[str, Any]:
        async with Client(StreamableHttpTransport(running.mcp_url)) as client:
            await client.list_tools()
            trio.from_thread.run_sync(ready.set)
            result = await client.call_tool("wait_for_messages", args, raise_on_error=False)
            assert isinstance(result.structured_content, dict), result
            return result.structured_content

    return await trio.to_thread.run_sync(lambda: asyncio.run(session()))


@pytest.mark.parametrize(
    ("args", "code"),
    [({"timeout_seconds": 0}, "INVALID_INPUT"), ({"timeout_seconds": 61}, "INVALID_INPUT"),
     ({"timeout_seconds": -5}, "INVALID_INPUT"), ({"since_id": -1}, "INVALID_INPUT"),
     ({"session_id": "nope"}, "INVALID_INPUT"), ({"session_id": MISSING}, "SESSION_NOT_FOUND")],
)  # fmt: skip
async def test_wait_for_messages_rejects_bad_input(running: Running, args: dict[str, Any], code: str) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        sid = await new_session(running, token)
        reply = await running.mcp().call(
            "wait_for_messages", **{"session_id": sid, "since_id": 0, "auth_token": token, **args}
        )
    assert reply["success"] is False and reply["code"] == code, reply


async def test_wait_for_messages_needs_identity(running: Running) -> None:
    with trio.fail_after(30):
        sid = await new_session(running, await running.token("alice"))
        reply = await running.mcp().call("wait_for_messages", session_id=sid, since_id=0, timeout_seconds=1)
    assert reply["code"] == "AUTH_REQUIRED"


async def test_wait_returns_existing_newer_messages_at_once(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        sid = await new_session(running, token)
        mcp = running.mcp()
        ids = [
            r["message_id"]
            for r in await mcp.calls(
                [
                    ("add_message", {"session_id": sid, "content": f"m{i}", "auth_token": token})
                    for i in range(3)
                ]
            )
        ]
        reply = await mcp.call(
            "wait_for_messages", session_id=sid, since_id=ids[0], timeout_seconds=60, auth_token=token
        )
    assert reply["success"] and reply["timed_out"] is False, reply
    assert [m["content"] for m in reply["messages"]] == ["m1", "m2"]
    assert reply["count"] == 2 and reply["last_id"] == ids[2]


async def test_wait_times_out_empty_with_since_id_as_last_id(running: Running) -> None:
    with trio.fail_after(30):
        token = await running.token("alice")
        sid = await new_session(running, token)
        posted = await running.mcp().call("add_message", session_id=sid, content="old", auth_token=token)
        reply = await running.mcp().call(
            "wait_for_messages",
            session_id=sid,
            since_id=posted["message_id"],
            timeout_seconds=1,
            auth_token=token,
        )
    assert reply["success"] and reply["timed_out"] is True, reply
    assert reply["messages"] == [] and reply["count"] == 0
    assert reply["last_id"] == posted["message_id"]


async def test_regression_wait_returns_when_another_client_posts(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice", "claude")
        bob = await running.token("bob", "gemini")
        sid = await new_session(running, alice)
        ready = trio.Event()
        got: dict[str, Any] = {}

        async def waiter() -> None:
            got.update(
                await _wait_when_ready(
                    running, ready, session_id=sid, since_id=0, timeout_seconds=60, auth_token=alice
                )
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await ready.wait()
            await trio.sleep(0.3)  # let the call reach the server; correctness does not depend on it
            posted = await running.mcp().call("add_message", session_id=sid, content="hello", auth_token=bob)
    assert got["timed_out"] is False, got
    assert [(m["id"], m["content"], m["sender"]) for m in got["messages"]] == [
        (posted["message_id"], "hello", "bob")
    ]
    assert got["last_id"] == posted["message_id"]


async def test_regression_invisible_message_does_not_wake_with_content(running: Running) -> None:
    """bob's private (and agent_only) messages are not alice's: her wait returns only what she
    may see, the public message posted after them."""
    with trio.fail_after(40):
        alice = await running.token("alice", "claude")
        bob = await running.token("bob", "gemini")
        sid = await new_session(running, alice)
        ready = trio.Event()
        got: dict[str, Any] = {}

        async def waiter() -> None:
            got.update(
                await _wait_when_ready(
                    running, ready, session_id=sid, since_id=0, timeout_seconds=30, auth_token=alice
                )
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await ready.wait()
            await trio.sleep(0.3)
            mcp = running.mcp()
            await mcp.calls(
                [
                    ("add_message", {"session_id": sid, "content": "bob only", "visibility": "private",
                                     "auth_token": bob}),
                    ("add_message", {"session_id": sid, "content": "geminis", "visibility": "agent_only",
                                     "auth_token": bob}),
                ]
            )  # fmt: skip
            await trio.sleep(0.5)  # a wrong implementation would return (empty or leaking) here
            public = await mcp.call("add_message", session_id=sid, content="for all", auth_token=bob)
    assert [m["content"] for m in got["messages"]] == ["for all"], got
    assert got["timed_out"] is False and got["last_id"] == public["message_id"]


async def test_invisible_messages_alone_time_out(running: Running) -> None:
    with trio.fail_after(30):
        alice = await running.token("alice", "claude")
        bob = await running.token("bob", "gemini")
        sid = await new_session(running, alice)
        await running.mcp().call(
            "add_message", session_id=sid, content="psst", visibility="private", auth_token=bob
        )
        reply = await running.mcp().call(
            "wait_for_messages", session_id=sid, since_id=0, timeout_seconds=1, auth_token=alice
        )
    assert reply["success"] and reply["timed_out"] is True and reply["messages"] == [], reply
    assert reply["last_id"] == 0


async def test_wait_returns_at_most_100_oldest_first(running: Running) -> None:
    with trio.fail_after(60):
        token = await running.token("alice")
        sid = await new_session(running, token)
        replies = await running.mcp().calls(
            [
                ("add_message", {"session_id": sid, "content": f"n{i}", "auth_token": token})
                for i in range(130)
            ]
        )
        ids = [r["message_id"] for r in replies]
        auth = {"auth_token": token}
        first, rest = await running.mcp().calls(
            [
                ("wait_for_messages", {"session_id": sid, "since_id": 0, "timeout_seconds": 1, **auth}),
                ("wait_for_messages", {"session_id": sid, "since_id": ids[99], "timeout_seconds": 1, **auth}),
            ]
        )
    assert first["count"] == 100 and [m["id"] for m in first["messages"]] == ids[:100]
    assert first["last_id"] == ids[99]
    assert [m["id"] for m in rest["messages"]] == ids[100:]


async def test_concurrent_writers_get_distinct_ids_in_order(running: Running) -> None:
    """10 clients post 10 messages each at once; a reader following with wait_for_messages
    sees all 100 exactly once, in id order, and get_messages returns them in id order."""
    with trio.fail_after(120):
        tokens = [await running.token(f"writer{n}") for n in range(10)]
        sid = await new_session(running, tokens[0])
        posted: list[int] = []
        followed: list[int] = []

        async def writer(n: int) -> None:
            calls = [
                ("add_message", {"session_id": sid, "content": f"w{n}.{i}", "auth_token": tokens[n]})
                for i in range(10)
            ]
            replies = await running.mcp().calls(calls)
            assert all(r["success"] for r in replies), replies
            posted.extend(r["message_id"] for r in replies)

        async def follower() -> None:
            last = 0
            while len(followed) < 100:
                reply = await running.mcp().call(
                    "wait_for_messages",
                    session_id=sid,
                    since_id=last,
                    timeout_seconds=10,
                    auth_token=tokens[0],
                )
                assert reply["success"], reply
                followed.extend(m["id"] for m in reply["messages"])
                last = reply["last_id"]

        async with trio.open_nursery() as nursery:
            nursery.start_soon(follower)
            for n in range(10):
                nursery.start_soon(writer, n)
        page = await running.mcp().call("get_messages", session_id=sid, limit=1000, auth_token=tokens[0])
    assert len(posted) == len(set(posted)) == 100
    assert followed == sorted(posted)
    assert [m["id"] for m in page["messages"]] == sorted(posted)
    assert page["total_count"] == 100
