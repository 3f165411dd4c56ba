"""Every tool family over a real `scsd stdio` subprocess, as its local identity."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from tests.kit.clients import McpStdio
from tests.kit.daemon import Running

pytestmark = pytest.mark.slow  # real daemons and subprocesses

AGENT = "cli-agent"


def _args(running: Running, agent_id: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARED_CONTEXT_")}
    args = ["-m", "scsd", "stdio", "--agent-id", agent_id, "--agent-type", "claude",
            "--data-dir", str(running.config.data_dir), "--log-level", "WARNING"]  # fmt: skip
    return args, env


def _stdio(running: Running, agent_id: str = AGENT) -> McpStdio:
    args, env = _args(running, agent_id)
    return McpStdio(sys.executable, args, env)


async def _with_stdio_client(running: Running, fn: Callable[[Client[Any]], Awaitable[Any]]) -> Any:
    args, env = _args(running, AGENT)

    async def session() -> Any:
        async with Client(StdioTransport(sys.executable, args, env=env)) as client:
            return await fn(client)

    return await trio.to_thread.run_sync(lambda: asyncio.run(session()))


async def test_every_tool_family_over_stdio(running: Running) -> None:
    with trio.fail_after(90):
        stdio = _stdio(running)
        (created,) = await stdio.calls([("create_session", {"purpose": "stdio families"})])
        sid = created["session_id"]
        r = await stdio.calls(
            [
                ("add_message", {"session_id": sid, "content": "Deploying FastAPI from the terminal"}),
                ("wait_for_messages", {"session_id": sid, "since_id": 0, "timeout_seconds": 5}),
                ("search_context", {"session_id": sid, "query": "FastAPl"}),
                ("search_by_sender", {"session_id": sid, "sender": AGENT}),
                ("search_by_timerange", {"session_id": sid, "start_time": "2000-01-01T00:00:00Z",
                                         "end_time": "2100-01-01T00:00:00+00:00"}),
                ("set_memory", {"key": "plan", "value": {"step": 1}}),
                ("set_memory", {"key": "plan", "value": [2], "session_id": sid}),
                ("get_memory", {"key": "plan"}),
                ("list_memory", {"session_id": "all"}),
                ("delete_memory", {"key": "plan", "session_id": sid}),
                ("get_memory", {"key": "plan", "session_id": sid}),
                ("get_usage_guidance", {}),
                ("get_performance_metrics", {}),
                ("get_audit_log", {}),
                ("authenticate_agent", {"agent_id": AGENT, "agent_type": "claude"}),
            ]
        )  # fmt: skip
        token = r[-1]["token"]
        (refreshed,) = await stdio.calls([("refresh_token", {"current_token": token})])
        old, new = await running.mcp().calls(
            [("list_sessions", {"auth_token": token}), ("list_sessions", {"auth_token": refreshed["token"]})]
        )
    added, waited, fuzzy, by_sender, by_time = r[:5]
    assert created["created_by"] == AGENT
    assert added["success"], added
    assert [m["id"] for m in waited["messages"]] == [added["message_id"]] and waited["timed_out"] is False
    assert [x["message"]["id"] for x in fuzzy["results"]] == [added["message_id"]]
    assert [m["id"] for m in by_sender["messages"]] == [added["message_id"]]
    assert [m["id"] for m in by_time["messages"]] == [added["message_id"]]
    assert r[5]["scope"] == "global" and r[6]["scope"] == "session"
    assert r[7]["value"] == {"step": 1}
    assert sorted(e["scope"] for e in r[8]["entries"]) == ["global", "session"]
    assert r[9]["deleted"] is True and r[10]["code"] == "MEMORY_NOT_FOUND"
    assert r[11]["access_level"] == "AGENT"
    assert r[12]["code"] == r[13]["code"] == "PERMISSION_DENIED"  # the local identity is never admin
    assert refreshed["success"], refreshed
    assert old["code"] == "TOKEN_AUTHENTICATION_FAILED"  # revoked for the daemon too: one database
    assert new["success"], new


async def test_stdio_memory_is_the_same_agents_memory_as_over_http(running: Running) -> None:
    with trio.fail_after(60):
        (stored,) = await _stdio(running).calls([("set_memory", {"key": "shared", "value": "from stdio"})])
        assert stored["success"], stored
        same = await running.token(AGENT)
        other = await running.token("someone-else")
        mine, theirs = await running.mcp().calls(
            [
                ("get_memory", {"key": "shared", "auth_token": same}),
                ("get_memory", {"key": "shared", "auth_token": other}),
            ]
        )
    assert mine["value"] == "from stdio"
    assert theirs["code"] == "MEMORY_NOT_FOUND"


async def test_stdio_wait_wakes_for_a_message_posted_to_the_daemon(running: Running) -> None:
    """`scsd stdio` runs its own watcher: a message written by the daemon wakes its wait."""
    with trio.fail_after(90):
        token = await running.token("http-agent")
        sid = (await running.mcp().call("create_session", purpose="x", auth_token=token))["session_id"]
        ready = trio.Event()

        async def wait(client: Client[Any]) -> Any:
            await client.list_tools()
            trio.from_thread.run_sync(ready.set)
            args = {"session_id": sid, "since_id": 0, "timeout_seconds": 60}
            return (
                await client.call_tool("wait_for_messages", args, raise_on_error=False)
            ).structured_content

        got: dict[str, Any] = {}

        async def waiter() -> None:
            got.update(await _with_stdio_client(running, wait))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await ready.wait()
            await trio.sleep(0.3)  # let the call reach the process; correctness does not depend on it
            posted = await running.mcp().call(
                "add_message", session_id=sid, content="from http", auth_token=token
            )
    assert got["timed_out"] is False, got
    assert [(m["id"], m["content"]) for m in got["messages"]] == [(posted["message_id"], "from http")]


async def test_stdio_resources_and_prompts_use_the_local_identity(running: Running) -> None:
    with trio.fail_after(90):
        alice = await running.token("alice", "gemini")
        sid = (await running.mcp().call("create_session", purpose="res", auth_token=alice))["session_id"]
        await running.mcp().calls(
            [("add_message", {"session_id": sid, "content": "open-words", "auth_token": alice}),
             ("add_message", {"session_id": sid, "content": "alice-hidden", "visibility": "private",
                              "auth_token": alice})]
        )  # fmt: skip
        await _stdio(running).calls([("set_memory", {"key": "note", "value": "local-mem-9"})])

        async def read(client: Client[Any]) -> list[str]:
            texts = []
            for uri in (f"session://{sid}", f"agent://{AGENT}/memory"):
                contents = await client.read_resource(uri)
                texts.append("".join(getattr(c, "text", "") for c in contents))
            prompt = await client.get_prompt("debug-session", {"session_id": sid})
            texts.append("\n".join(getattr(m.content, "text", "") for m in prompt.messages))
            return texts

        session_text, memory_text, prompt_text = await _with_stdio_client(running, read)
    assert "open-words" in session_text and "alice-hidden" not in session_text
    assert "local-mem-9" in memory_text
    assert sid in prompt_text and "alice-hidden" not in prompt_text
