"""One ASGI app for the HTTP port: `/mcp` to FastMCP, everything else to the Quart app."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from scsd.httpd.inflight import InFlight


def route(web_app: ASGIApp, mcp_app: ASGIApp, in_flight: InFlight, mcp_calls: InFlight) -> ASGIApp:
    """An ASGI app sending `/mcp` and `/mcp/...` to `mcp_app`, everything else to `web_app`.

    Every HTTP request is counted in `in_flight`; MCP requests other than GET (tool calls
    and session ends, not the long-lived event stream) also in `mcp_calls`, so shutdown can
    wait for them before closing MCP sessions. Lifespan events go to `web_app` only: the MCP
    app's lifespan (its session manager) is entered once by the daemon, never by hypercorn.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await web_app(scope, receive, send)
            return
        path = scope.get("path", "")
        with in_flight.track():
            if path == "/mcp" or path.startswith("/mcp/"):
                if path == "/mcp/":  # clients configured as `.../mcp/` skip a redirect
                    scope = {**scope, "path": "/mcp", "raw_path": b"/mcp"}
                if scope.get("method") == "GET":
                    await mcp_app(scope, receive, send)
                else:
                    with mcp_calls.track():
                        await mcp_app(scope, receive, send)
            else:
                await web_app(scope, receive, send)

    return app
