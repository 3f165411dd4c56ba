"""`scsd stdio` as a real subprocess sharing the daemon's database file."""

from __future__ import annotations

import os
import sys

import pytest
import trio
from trio_websocket import open_websocket_url

from tests.kit.clients import McpStdio, next_event
from tests.kit.daemon import Running

pytestmark = pytest.mark.slow  # real daemons and subprocesses


def _stdio(running: Running, agent_id: str = "cli-agent") -> McpStdio:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARED_CONTEXT_")}
    return McpStdio(
        sys.executable,
        [
            "-m",
            "scsd",
            "stdio",
            "--agent-id",
            agent_id,
            "--agent-type",
            "claude",
            "--data-dir",
            str(running.config.data_dir),
            "--log-level",
            "WARNING",
        ],
        env,
    )


async def test_message_from_stdio_process_reaches_daemon_subscriber(running: Running) -> None:
    """The stdio process writes to the shared file; the daemon's watcher finds it by id."""
    with trio.fail_after(60):
        token = await running.token("watcher")
        sid = (await running.mcp().call("create_session", purpose="x", auth_token=token))["session_id"]
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={token}") as ws:
            await next_event(ws, "subscribed")
            replies = await _stdio(running).calls(
                [
                    ("add_message", {"session_id": sid, "content": "from another process"}),
                    ("get_messages", {"session_id": sid}),
                ]
            )
            event = await next_event(ws, "new_message")
    added, page = replies
    assert added["success"], added
    assert event["data"]["id"] == added["message_id"]
    assert event["data"]["sender"] == "cli-agent"
    assert event["data"]["content"] == "from another process"
    assert [m["content"] for m in page["messages"]] == ["from another process"]


async def test_stdio_local_identity_can_authenticate_without_header(running: Running) -> None:
    with trio.fail_after(60):
        replies = await _stdio(running).calls(
            [
                (
                    "authenticate_agent",
                    {
                        "agent_id": "cli-agent",
                        "agent_type": "claude",
                        "requested_permissions": ["read", "write", "admin"],
                    },
                ),
            ]
        )
    reply = replies[0]
    assert reply["success"], reply
    assert reply["permissions"] == ["read", "write"]  # never admin without the admin key
    # The token works against the daemon too: same secrets file.
    page = await running.mcp().call("list_sessions", auth_token=reply["token"])
    assert page["success"] and page["sessions"] == []


async def test_daemon_and_stdio_writing_at_once_never_see_locked(running: Running) -> None:
    """Two processes share one SQLite file: concurrent writers all succeed, ids are distinct."""
    with trio.fail_after(120):
        token = await running.token("http-agent")
        sid = (await running.mcp().call("create_session", purpose="x", auth_token=token))["session_id"]
        results: list[dict[str, object]] = []

        async def http_writer(n: int) -> None:
            calls = [
                ("add_message", {"session_id": sid, "content": f"http {n}.{i}", "auth_token": token})
                for i in range(25)
            ]
            results.extend(await running.mcp().calls(calls))

        async def stdio_writer() -> None:
            calls = [("add_message", {"session_id": sid, "content": f"stdio {i}"}) for i in range(50)]
            results.extend(await _stdio(running).calls(calls))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(stdio_writer)
            for n in range(4):
                nursery.start_soon(http_writer, n)
        failures = [r for r in results if not r.get("success")]
        assert failures == []
        ids = [r["message_id"] for r in results]
        assert len(ids) == len(set(ids)) == 150
        page = await running.mcp().call("get_messages", session_id=sid, limit=1000, auth_token=token)
    assert page["total_count"] == 150
    assert [m["id"] for m in page["messages"]] == sorted(ids)
