"""The path router: /mcp to FastMCP, the rest to the web app, lifespan to the web app only."""

from __future__ import annotations

from typing import Any

from starlette.types import Receive, Scope, Send

from scsd.httpd.inflight import InFlight
from scsd.httpd.routing import route


class Recorder:
    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)


async def _receive() -> dict[str, Any]:
    return {}


async def _send(message: Any) -> None:
    return None


async def test_routes_mcp_paths_and_lifespan() -> None:
    web, mcp = Recorder(), Recorder()
    in_flight, mcp_calls = InFlight(), InFlight()
    app = route(web, mcp, in_flight, mcp_calls)
    for path in ("/mcp", "/mcp/", "/mcpx", "/health", "/ui/"):
        await app(
            {"type": "http", "method": "POST", "path": path, "raw_path": path.encode()}, _receive, _send
        )
    await app({"type": "http", "method": "GET", "path": "/mcp", "raw_path": b"/mcp"}, _receive, _send)
    await app({"type": "lifespan"}, _receive, _send)
    assert [s["path"] for s in mcp.scopes] == ["/mcp", "/mcp", "/mcp"]  # "/mcp/" rewritten, no redirect
    assert mcp.scopes[1]["raw_path"] == b"/mcp"
    assert [s.get("path") for s in web.scopes] == ["/mcpx", "/health", "/ui/", None]
    assert web.scopes[-1]["type"] == "lifespan"
    assert (in_flight.count, in_flight.total) == (0, 6)  # HTTP requests counted, lifespan not
    assert (mcp_calls.count, mcp_calls.total) == (0, 2)  # MCP calls, not the GET event stream
