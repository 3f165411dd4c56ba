"""Shared fixtures: configs on port 0 in tmp dirs, and a real daemon started in-process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import trio
from helpers import McpHttp

from scsd import daemon
from scsd.config import Config
from scsd.events import Endpoints
from scsd.sdnotify import Notifier


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


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
async def running(nursery: trio.Nursery, config: Config) -> AsyncIterator[Running]:
    stop = trio.Event()
    with trio.fail_after(30):
        endpoints = await nursery.start(daemon.run, config, stop.wait, Notifier({}))
    secrets = json.loads((config.data_dir / "secrets.json").read_text())
    try:
        yield Running(config, endpoints, secrets, stop)
    finally:
        stop.set()
