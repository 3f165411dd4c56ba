"""Composes the HTTP side: routes `/mcp` to FastMCP and the rest to Quart, served by hypercorn."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Final

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.config import Sockets
from hypercorn.trio.run import worker_serve
from hypercorn.utils import wrap_app
from starlette.types import ASGIApp, Receive, Scope, Send

from scsd.inflight import InFlight

logger = logging.getLogger(__name__)

# Of the grace period, what is kept back for closing sockets and the database after the
# HTTP drain, so that the whole process exits within the grace period.
TEARDOWN_SECONDS: Final = 0.5


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


async def serve(
    app: ASGIApp,
    sock: socket.socket,
    wait_for_shutdown: Callable[[], Awaitable[Any]],
    grace_seconds: float,
    in_flight: InFlight,
    tls: ssl.SSLContext | None = None,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `app` (routed with the same `in_flight`) over HTTP on the listening `sock` until
    `wait_for_shutdown` returns; over HTTPS with the `tls` server context if given (a failed
    handshake or a plain-HTTP request then ends that connection only).

    `task_status.started()` receives the bound port. On shutdown hypercorn stops accepting,
    requests in flight get up to `grace_seconds` to finish, then idle keep-alive connections
    are dropped at once (hypercorn alone would hold them for the whole grace period).
    """
    async with trio.open_nursery() as nursery:
        port = await nursery.start(_hypercorn, app, sock, wait_for_shutdown, grace_seconds, tls)
        task_status.started(port)
        await wait_for_shutdown()
        with trio.move_on_after(max(grace_seconds - TEARDOWN_SECONDS, 0.0)):
            await in_flight.wait_idle()
        nursery.cancel_scope.cancel()


async def _hypercorn(
    app: ASGIApp,
    sock: socket.socket,
    wait_for_shutdown: Callable[[], Awaitable[Any]],
    grace_seconds: float,
    tls: ssl.SSLContext | None,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    config = HypercornConfig() if tls is None else _TlsConfig(tls)
    config.graceful_timeout = grace_seconds
    config.errorlog = logging.getLogger("hypercorn.error")
    config.accesslog = None
    config.keep_alive_timeout = 30
    port = int(sock.getsockname()[1])
    await worker_serve(
        wrap_app(app, config.wsgi_max_body_size, "asgi"),  # type: ignore[arg-type]
        config,
        sockets=Sockets(
            secure_sockets=[] if tls is None else [sock],
            insecure_sockets=[sock] if tls is None else [],
            quic_sockets=[],
        ),
        shutdown_trigger=wait_for_shutdown,
        task_status=_PortStatus(task_status, port),
    )


class _TlsConfig(HypercornConfig):
    """hypercorn's config with our server context instead of one it would build from paths,
    so that both ports share one TLS policy (scsd.tls), checked once at start-up."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        self._context = context

    def create_ssl_context(self) -> ssl.SSLContext | None:
        return self._context


class _PortStatus:
    """Adapts hypercorn's started(binds) to our started(port)."""

    def __init__(self, outer: trio.TaskStatus[int], port: int) -> None:
        self._outer = outer
        self._port = port

    def started(self, value: object = None) -> None:
        self._outer.started(self._port)
