"""The MCP Inspector CLI (`mcp-inspector --cli`, the official TypeScript SDK's client), pinned
in .ci/inspector and installed by .ci/run, over Streamable HTTP (with its --header flags) and
over stdio: it lists every tool without a warning, and its client checks each structured
result, success and error alike, against the tool's output schema (a mismatch fails the run).
In CI a missing Node or Inspector is a failure; elsewhere the tests skip and say how to
install it."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import pytest
import trio

from tests.kit.daemon import Running

ROOT: Final = Path(__file__).resolve().parents[2]
INSPECTOR: Final = ROOT / ".ci" / "inspector" / "node_modules" / ".bin" / "mcp-inspector"
RUN_SECONDS: Final = 120.0  # a hang guard: node starts, and stdio spawns `scsd stdio`
# v1 says on stderr that v2 exists (v2 needs Node 22); anything else there is a warning.
_DEPRECATION: Final = ("@modelcontextprotocol/inspector v1 is deprecated", "Upgrade:", "security fixes")


def _inspector() -> Path:
    missing = [
        what for what, ok in (("node", shutil.which("node")), ("the Inspector", INSPECTOR.exists())) if not ok
    ]
    if missing:
        reason = f"{' and '.join(missing)} not installed: run `npm ci --prefix .ci/inspector` (Node 20)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return INSPECTOR


async def _inspect(target: list[str], *options: str) -> tuple[Any, list[str]]:
    """Run the Inspector CLI on `target` (a URL, or a command line for stdio): its JSON
    output and the lines it wrote to stderr, minus its deprecation notice."""
    with trio.fail_after(RUN_SECONDS):
        done = await trio.run_process(
            [str(_inspector()), "--cli", *target, *options],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    err = [line for line in done.stderr.decode().splitlines() if line.strip()]
    err = [line for line in err if not any(mark in line for mark in _DEPRECATION)]
    assert done.returncode == 0, f"exit {done.returncode}: {done.stdout.decode()[-2000:]}\n" + "\n".join(err)
    return json.loads(done.stdout), err


def _envelope(result: dict[str, Any]) -> dict[str, Any]:
    body = result["structuredContent"]
    assert [json.loads(c["text"]) for c in result["content"]] == [body]
    assert result.get("isError", False) is (body["success"] is False), result
    return dict(body)


def _check_listing(listing: dict[str, Any]) -> None:
    tools = {t["name"]: t for t in listing["tools"]}
    assert len(tools) == 19
    for name, tool in tools.items():
        assert set(tool["annotations"]) >= {"readOnlyHint", "destructiveHint", "idempotentHint"}, name
        assert {s["properties"]["success"]["const"] for s in tool["outputSchema"]["anyOf"]} == {True, False}
        assert all(p.get("description") for p in tool["inputSchema"]["properties"].values()), name


async def test_inspector_over_http_lists_and_calls_without_warnings(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    url = [running.mcp_url, "--transport", "http"]
    key = ["--header", f"X-API-Key: {running.secrets['api_key']}"]
    with caplog.at_level(logging.WARNING):
        listing, warnings = await _inspect(url, *key, "--method", "tools/list")
    assert warnings == []
    assert not [r for r in caplog.records if r.name.startswith(("fastmcp", "mcp"))], caplog.text
    _check_listing(listing)
    call = ["--method", "tools/call", "--tool-name"]
    authed, _ = await _inspect(
        url, *key, *call, "authenticate_agent", "--tool-arg", "agent_id=inspector", "agent_type=claude"
    )
    token = _envelope(authed)["token"]
    bearer = ["--header", f"Authorization: Bearer {token}"]
    created, _ = await _inspect(url, *bearer, *call, "create_session", "--tool-arg", "purpose=inspected")
    sid = _envelope(created)["session_id"]
    added, _ = await _inspect(
        url, *bearer, *call, "add_message", "--tool-arg", f"session_id={sid}", "content=hi"
    )
    assert _envelope(added)["message_id"] >= 1
    failed, _ = await _inspect(
        url, *bearer, *call, "get_messages", "--tool-arg", f"session_id={sid}", "limit=many"
    )
    body = _envelope(failed)
    assert (
        failed["isError"] is True and body["code"] == "INVALID_INPUT" and body["context"]["field"] == "limit"
    )
    denied, _ = await _inspect(url, *call, "create_session", "--tool-arg", "purpose=nobody")
    assert denied["isError"] is True and _envelope(denied)["code"] == "AUTH_REQUIRED"


async def test_inspector_over_stdio_lists_and_calls(running: Running) -> None:
    command = [sys.executable, "-m", "scsd", "stdio", "--data-dir", str(running.config.data_dir)]
    command += ["--agent-id", "inspector-stdio"]  # (--log-level would be the Inspector's own)
    listing, warnings = await _inspect(command, "--method", "tools/list")
    assert warnings == []
    _check_listing(listing)
    call = ["--method", "tools/call", "--tool-name"]
    created, _ = await _inspect(command, *call, "create_session", "--tool-arg", "purpose=over stdio")
    body = _envelope(created)
    assert body["created_by"] == "inspector-stdio"
    failed, _ = await _inspect(command, *call, "get_session", "--tool-arg", "session_id=nope")
    assert failed["isError"] is True and _envelope(failed)["code"] == "INVALID_INPUT"
    # Written over stdio, seen by the daemon: one database.
    token = await running.token("reader")
    with trio.fail_after(30):
        seen = await running.mcp().call("get_session", session_id=body["session_id"], auth_token=token)
    assert seen["session"]["purpose"] == "over stdio"
