"""A daemon for tests: configs on port 0 in tmp dirs, `Running` (what a started daemon
offers a test), and the few calls nearly every end-to-end test makes."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import trio

from scsd.config import Config
from scsd.model import Endpoints
from tests.kit.clients import McpHttp, McpStdio


def make_config(tmp_path: Path, **overrides: Any) -> Config:
    """A config that touches nothing outside tmp_path and binds free ports."""
    base = Config(data_dir=tmp_path / "data", port=0, ws_port=0, poll_seconds=0.05)
    return replace(base, **overrides)


@dataclass
class Running:
    config: Config
    endpoints: Endpoints
    secrets: dict[str, str]
    stop: trio.Event

    @property
    def mcp_url(self) -> str:
        return f"{self.endpoints.http_url}/mcp"

    def mcp(self, **headers: str) -> McpHttp:
        return McpHttp(self.mcp_url, headers)

    async def token(
        self,
        agent_id: str,
        agent_type: str = "claude",
        *,
        admin: bool = False,
        permissions: list[str] | None = None,
    ) -> str:
        """A token minted through the real authenticate_agent tool."""
        key = self.secrets["admin_key" if admin else "api_key"]
        args: dict[str, Any] = {"agent_id": agent_id, "agent_type": agent_type}
        if permissions is not None:
            args["requested_permissions"] = permissions
        reply = await self.mcp(**{"X-API-Key": key}).call("authenticate_agent", **args)
        assert reply["success"], reply
        return str(reply["token"])


async def new_session(running: Running, token: str, purpose: str = "test") -> str:
    """A session created through the real create_session tool."""
    reply = await running.mcp().call("create_session", purpose=purpose, auth_token=token)
    assert reply["success"], reply
    return str(reply["session_id"])


async def post(running: Running, token: str, sid: str, content: str, visibility: str = "public") -> int:
    """A message added through the real add_message tool; its id."""
    reply = await running.mcp().call(
        "add_message", session_id=sid, content=content, visibility=visibility, auth_token=token
    )
    assert reply["success"], reply
    return int(reply["message_id"])


def stdio_client(running: Running, agent_id: str) -> McpStdio:
    """A client that spawns `scsd stdio` on the running daemon's data dir as `agent_id`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARED_CONTEXT_")}
    args = ["-m", "scsd", "stdio", "--agent-id", agent_id, "--agent-type", "claude"]
    args += ["--data-dir", str(running.config.data_dir), "--log-level", "WARNING"]
    return McpStdio(sys.executable, args, env)


def free_port() -> int:
    """A port that was free a moment ago (the daemon must come back on the same one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
