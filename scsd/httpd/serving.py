"""Serving the HTTP port with hypercorn, through its public entry point (`hypercorn.trio.serve`)
on the socket the daemon bound: handed over as an `fd://` bind of a duplicate descriptor."""

from __future__ import annotations

import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Final

import hypercorn.trio
import trio
from hypercorn.config import Config as HypercornConfig
from starlette.types import ASGIApp

from scsd.httpd.inflight import InFlight

logger = logging.getLogger(__name__)

# Of the grace period, what is kept back for closing sockets and the database after the
# HTTP drain, so that the whole process exits within the grace period.
TEARDOWN_SECONDS: Final = 0.5


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
    # hypercorn wraps the descriptor in a socket object of its own and closes it when it
    # stops: give it a duplicate, so the daemon's socket (closed by the daemon) stays its own.
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    await hypercorn.trio.serve(
        app,  # type: ignore[arg-type]  # Starlette's scope types are narrower than hypercorn's
        config,
        shutdown_trigger=wait_for_shutdown,
        task_status=_PortStatus(task_status, port),
        mode="asgi",
    )


class _TlsConfig(HypercornConfig):
    """hypercorn's config with our server context instead of one it would build from paths,
    so that both ports share one TLS policy (scsd.process.tls), checked once at start-up."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        self._context = context

    @property
    def ssl_enabled(self) -> bool:
        return True  # hypercorn asks this to decide that `bind` is a TLS socket

    def create_ssl_context(self) -> ssl.SSLContext | None:
        return self._context


class _PortStatus:
    """Adapts hypercorn's started(binds) to our started(port)."""

    def __init__(self, outer: trio.TaskStatus[int], port: int) -> None:
        self._outer = outer
        self._port = port

    def started(self, value: object = None) -> None:
        self._outer.started(self._port)
