"""Real clients for tests: the fastmcp Client and the official `mcp` SDK's Client (both
asyncio-only, so they run in a worker thread with their own event loop) over Streamable HTTP
or stdio, WebSocket calls and event readers (trio-websocket, or a raw wsproto handshake), and
an SSE stream reader."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import mcp
import trio
from fastmcp import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Tool
from trio_websocket import WebSocketConnection
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, RejectConnection, Request, TextMessage

if TYPE_CHECKING:
    from tests.kit.daemon import Running

JsonObject = dict[str, Any]
Call = tuple[str, JsonObject]
Event = dict[str, str]


def _result(result: Any) -> JsonObject:
    """The JSON object a tool answered, checked against the contract: the same object as
    structured content and as text, and an MCP tool error (isError) exactly when it failed."""
    data = result.structured_content
    assert isinstance(data, dict), f"tool returned no JSON object: {result!r}"
    assert [json.loads(c.text) for c in result.content] == [data], result
    assert result.is_error == (data.get("success") is not True), result
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


class McpSdk:
    """The official `mcp` SDK's Client over real HTTP: lists the tools, then makes the calls
    in one MCP session. The SDK itself checks each successful result against its tool's
    output schema (a mismatch raises); the raw results are returned for the test to check."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}

    async def session(self, calls: Sequence[Call]) -> tuple[list[Tool], list[CallToolResult]]:
        async def go() -> tuple[list[Tool], list[CallToolResult]]:
            async with (
                httpx2.AsyncClient(headers=self.headers) as http,
                mcp.Client(streamable_http_client(self.url, http_client=http)) as client,
            ):
                tools = (await client.list_tools()).tools
                return tools, [await client.call_tool(name, args) for name, args in calls]

        return await trio.to_thread.run_sync(lambda: asyncio.run(go()))


async def next_event(ws: WebSocketConnection, *types: str) -> JsonObject:
    """The next event of one of `types` (any type if none given), skipping server pings."""
    while True:
        event = json.loads(await ws.get_message())
        assert isinstance(event, dict)
        if event.get("type") == "ping" and "ping" not in types:
            continue
        if not types or event.get("type") in types:
            return event


async def ws_call(ws: WebSocketConnection, tool: str, call_id: Any = None, **arguments: Any) -> None:
    """Send a tool-style call frame on a WebSocket."""
    frame: JsonObject = {"tool": tool, "arguments": arguments}
    if call_id is not None:
        frame["id"] = call_id
    await ws.send_message(json.dumps(frame))


def add_call(token: str, sid: str, content: str, visibility: str = "public") -> Call:
    """An add_message call for `McpHttp.calls`."""
    args = {"session_id": sid, "content": content, "visibility": visibility, "auth_token": token}
    return ("add_message", args)


async def raw_open(port: int, target: str) -> tuple[trio.SocketStream, WSConnection]:
    """A WebSocket handshake by hand on a socket with a tiny receive buffer, so that a peer
    which stops reading stalls the server's sends for real (no client-side queue)."""
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", port))
    stream = trio.SocketStream(sock)
    conn = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(conn.send(Request(host=f"127.0.0.1:{port}", target=target)))
    accepted, subscribed = False, False
    text = ""
    while not subscribed:
        conn.receive_data(await stream.receive_some(65536))
        for event in conn.events():
            assert not isinstance(event, RejectConnection), event
            accepted = accepted or isinstance(event, AcceptConnection)
            if isinstance(event, TextMessage):
                text += event.data
                if event.message_finished:
                    subscribed = subscribed or json.loads(text)["type"] == "subscribed"
                    text = ""
    assert accepted
    return stream, conn


async def raw_drain(stream: trio.SocketStream, conn: WSConnection) -> tuple[list[int], int | None]:
    """Read everything until the close frame: the new_message ids and the close code
    (None if the connection ended without one)."""
    ids: list[int] = []
    text = ""
    try:
        while data := await stream.receive_some(1 << 20):
            conn.receive_data(data)
            for event in conn.events():
                if isinstance(event, CloseConnection):
                    return ids, event.code
                if isinstance(event, TextMessage):
                    text += event.data
                    if event.message_finished:
                        parsed: dict[str, Any] = json.loads(text)
                        text = ""
                        if parsed["type"] == "new_message":
                            ids.append(parsed["data"]["id"])
    except trio.BrokenResourceError:
        pass
    return ids, None


class Sse:
    """Parses an event stream: events as their fields, comments as {"comment": text}."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, *, comments: bool = False) -> Event:
        fields: Event = {}
        async for line in self._lines:
            if line.startswith(":"):
                if comments and not fields:
                    return {"comment": line[1:].strip()}
                continue
            if line == "":
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            fields[name] = f"{fields[name]}\n{value}" if name in fields else value
        raise EOFError("the stream ended")

    async def named(self) -> Event:
        """The next event that has a name (not the `retry:` advice)."""
        while "event" not in (event := await self.next()):
            pass
        return event

    async def until(self, content: str) -> list[Event]:
        """Events up to and including the new_message with `content`."""
        events: list[Event] = []
        while True:
            events.append(await self.next())
            if (
                events[-1].get("event") == "new_message"
                and json.loads(events[-1]["data"])["content"] == content
            ):
                return events


@asynccontextmanager
async def open_sse(
    running: Running, sid: str, params: dict[str, str] | None = None, **headers: str
) -> AsyncIterator[Sse]:
    """The stream of one session; `sid` "*" opens the all-sessions stream, `/ui/events`."""
    path = "/ui/events" if sid == "*" else f"/ui/sessions/{sid}/events"
    url = f"{running.endpoints.http_url}{path}"
    async with (
        httpx.AsyncClient(timeout=None) as client,
        client.stream(
            "GET", url, params=params, headers={"Accept": "text/event-stream", **headers}
        ) as response,
    ):
        yield Sse(response)
