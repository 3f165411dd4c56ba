"""The WebSocket listener: authenticated, visibility-filtered live events (SPEC §6).

`/ws/{session_id}` subscribes to that session on open; `/ws` waits for `subscribe` calls.
"""

from __future__ import annotations

import json
import logging
import socket
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import parse_qs, urlsplit

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, WebSocketServer

from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import TokenInvalid
from scsd.model import Identity, ListenerStats
from scsd.process.tls import TlsListener
from scsd.realtime.composing import TypingSignals
from scsd.realtime.hub import Hub
from scsd.realtime.ws.connection import Connection, ConnectionDeps
from scsd.realtime.ws.limits import SocketQuota, WsConfig
from scsd.realtime.ws.wire import DirectListener
from scsd.store import Store

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES: Final = 64 * 1024


@dataclass
class WsStats(ListenerStats):
    """The listener's counters (`/health`, `/metrics`) and its open connections."""

    live: set[WebSocketConnection] = field(default_factory=set)


async def serve(
    hub: Hub,
    store: Store,
    gatekeeper: Gatekeeper,
    typing: TypingSignals,
    cfg: WsConfig,
    sock: socket.socket,
    wait_for_shutdown: Callable[[], Awaitable[object]],
    stats: WsStats,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve WebSocket clients on the bound, listening `sock` until `wait_for_shutdown` returns.

    `task_status.started()` receives the port. At shutdown the listener stops and every open
    connection is closed with code 1001 (going away), within `cfg.close_seconds`. With
    `cfg.tls` the port speaks WSS; a failed TLS handshake (a plain-HTTP or ws:// client, an
    untrusted certificate) ends that connection only.
    """
    listener: trio.abc.Listener[trio.abc.Stream]
    tcp = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
    # Plain TCP streams take the hub's frames directly (scsd.realtime.ws.wire); TLS ones queued.
    listener = DirectListener(tcp) if cfg.tls is None else TlsListener(tcp, cfg.tls)
    stats.host, stats.port = sock.getsockname()[:2]
    quota = SocketQuota(cfg.max_sockets_per_identity)
    deps = ConnectionDeps(hub, store, gatekeeper, typing, cfg, quota)
    live: set[Connection] = set()

    # Sockets of one identity share one Identity (an agent or a browser may hold thousands:
    # ~0.7 KiB each otherwise, SPEC §8 memory per idle connection); gone with its last socket.
    identities: weakref.WeakValueDictionary[Identity, Identity] = weakref.WeakValueDictionary()

    async def handler(request: WebSocketRequest) -> None:
        # A peer that resets the connection mid-handshake makes accept() or reject() raise;
        # uncaught, that would end the handler nursery and with it the listener.
        try:
            await handle(request)
        except ConnectionClosed:
            stats.aborted += 1

    async def handle(request: WebSocketRequest) -> None:
        identity = await _admit(request, gatekeeper, cfg, stats)
        if identity is False:
            return
        if identity is not None:
            identity = identities.setdefault(identity, identity)
        if identity is not None and not quota.claim(identity.agent_id):
            await _reject(request, stats, 429, f"{identity.agent_id} already holds the maximum of sockets")
            return
        try:
            ws = await request.accept()
        except BaseException:
            if identity is not None:
                quota.release(identity.agent_id)
            raise
        stats.connections += 1
        stats.accepted += 1
        stats.live.add(ws)
        connection = Connection(ws, identity, deps)
        live.add(connection)
        try:
            await connection.run(_session_from_path(request.path))
        except* ConnectionClosed:
            pass  # the peer went away (or stopped reading); nothing more to do
        except* Exception:
            # A bug in one connection must not take the listener down with it.
            logger.exception("WebSocket connection from %s failed", request.remote)
        finally:
            live.discard(connection)
            stats.connections -= 1
            stats.live.discard(ws)
            if connection.identity is not None:
                quota.release(connection.identity.agent_id)

    async with trio.open_nursery() as connections:
        connections.start_soon(_heartbeat, live, cfg)
        server = WebSocketServer(
            handler,
            # Any trio Listener works (it goes to trio.serve_listeners); the annotation names
            # only the two kinds trio-websocket can describe in its debug log.
            [listener],  # type: ignore[list-item]
            handler_nursery=connections,
            max_message_size=MAX_FRAME_BYTES,
            connect_timeout=cfg.handshake_seconds,
            disconnect_timeout=cfg.close_seconds,
        )
        async with trio.open_nursery() as accepting:
            await accepting.start(server.run)
            task_status.started(stats.port)
            await wait_for_shutdown()
            accepting.cancel_scope.cancel()  # stop accepting first
        with trio.move_on_after(cfg.close_seconds):
            async with trio.open_nursery() as closing:
                for connection in list(live):
                    closing.start_soon(connection.close_going_away)
        connections.cancel_scope.cancel()


async def _heartbeat(live: set[Connection], cfg: WsConfig) -> None:
    """One task for every connection (a task each cost memory per idle socket): pings and
    the stuck-send check of `Connection.tick`, every tick; runs until cancelled."""
    tick_seconds = min(cfg.ping_interval_seconds, cfg.send_timeout_seconds / 2)
    while True:
        await trio.sleep(tick_seconds)
        now = trio.current_time()
        for connection in list(live):
            try:
                connection.tick(now)
            except RuntimeError:
                # Its nursery closed between the check and the ping (it is ending): one
                # socket's race must never stop the heartbeat of all the others.
                logger.debug("heartbeat skipped a connection that was ending", exc_info=True)


async def _admit(
    request: WebSocketRequest, gatekeeper: Gatekeeper, cfg: WsConfig, stats: ListenerStats
) -> Identity | Literal[False] | None:
    """The identity behind a handshake; None for `/ws` without credentials (it must send
    `authenticate`); False after rejecting the handshake with 401/403/404."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
    parts = urlsplit(request.path)
    if parts.path != "/ws" and not parts.path.startswith("/ws/"):
        await _reject(request, stats, 404, "unknown path; use /ws or /ws/{session_id}")
        return False
    origin = headers.get("origin")
    if origin is not None and origin.rstrip("/") not in cfg.allowed_origins:
        await _reject(request, stats, 403, f"origin {origin} is not allowed")
        return False
    try:
        admission = await gatekeeper.admit(
            parse_qs(parts.query).get("token", [None])[0],
            authorization=headers.get("authorization"),
            cookie_header=headers.get("cookie"),
        )
    except TokenInvalid as e:
        await _reject(request, stats, 401, str(e))
        return False
    if admission is not None:
        return admission.identity
    if parts.path == "/ws":
        return None
    await _reject(request, stats, 401, "a token is required (?token= or Authorization)")
    return False


async def _reject(request: WebSocketRequest, stats: ListenerStats, status: int, why: str) -> None:
    stats.rejected += 1
    body = json.dumps({"type": "error", "data": {"code": status, "message": why}}).encode()
    await request.reject(status, extra_headers=[(b"content-type", b"application/json")], body=body)


def _session_from_path(path: str) -> str | None:
    route = urlsplit(path).path
    return route.removeprefix("/ws/") or None if route.startswith("/ws/") else None
