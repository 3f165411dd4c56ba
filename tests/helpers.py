"""Real clients for tests: the fastmcp Client (asyncio-only, so it runs in a worker thread
with its own event loop) over Streamable HTTP or stdio, and WebSocket event readers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import trio
from fastmcp import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from trio_websocket import WebSocketConnection

JsonObject = dict[str, Any]
Call = tuple[str, JsonObject]


def _result(result: Any) -> JsonObject:
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        return {"is_error": True, "text": text}
    data = result.structured_content
    assert isinstance(data, dict), f"tool returned no JSON object: {result!r}"
    return data


async def _run_calls(client: Client[Any], calls: Sequence[Call]) -> list[JsonObject]:
    async with client:
        return [_result(await client.call_tool(name, args, raise_on_error=False)) for name, args in calls]


class McpHttp:
    """Calls tools over real HTTP. Each `calls()` batch is one MCP session."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}

    async def calls(self, calls: Sequence[Call]) -> list[JsonObject]:
        def run() -> list[JsonObject]:
            transport = StreamableHttpTransport(self.url, headers=self.headers)
            return asyncio.run(_run_calls(Client(transport), calls))

        return await trio.to_thread.run_sync(run)

    async def call(self, tool: str, **args: Any) -> JsonObject:
        return (await self.calls([(tool, args)]))[0]

    def with_headers(self, **headers: str) -> McpHttp:
        return McpHttp(self.url, {**self.headers, **headers})


class McpStdio:
    """Spawns `scsd stdio` (a real subprocess) and calls tools over its stdin/stdout."""

    def __init__(self, command: str, args: list[str], env: dict[str, str]) -> None:
        self.command, self.args, self.env = command, args, env

    async def calls(self, calls: Sequence[Call]) -> list[JsonObject]:
        def run() -> list[JsonObject]:
            transport = StdioTransport(self.command, self.args, env=self.env)
            return asyncio.run(_run_calls(Client(transport), calls))

        return await trio.to_thread.run_sync(run)


async def next_event(ws: WebSocketConnection, *types: str) -> JsonObject:
    """The next event of one of `types` (any type if none given), skipping server pings."""
    while True:
        event = json.loads(await ws.get_message())
        assert isinstance(event, dict)
        if event.get("type") == "ping" and "ping" not in types:
            continue
        if not types or event.get("type") in types:
            return event
