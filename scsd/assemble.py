"""Building the object graph from `Config`: what `daemon` then runs, in order.

`open_core` builds what every scsd process shares (the daemon and `scsd stdio`): the store and
the watcher's reader, the hub, the gatekeeper, the typing signals. `open_daemon` adds the
daemon's front ends on their bound sockets. Nothing here starts a task: that is `daemon`'s.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from starlette.types import ASGIApp

from scsd.access.cookies import SessionCookies
from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import Authority
from scsd.config import Config
from scsd.httpd import app, prometheus, routing
from scsd.httpd.health import HealthSources, report, runtime_report
from scsd.httpd.inflight import InFlight
from scsd.mcp import server as mcp_server
from scsd.mcp.stdio import local_identity
from scsd.mcp.tools import Services
from scsd.model import Message
from scsd.process import net, tls
from scsd.process.keyfile import Keys, load_or_create_keys, prepare_data_dir
from scsd.realtime import sse, watcher
from scsd.realtime.composing import Gate, TypingSignals
from scsd.realtime.hub import Hub
from scsd.realtime.ws.limits import WsConfig
from scsd.realtime.ws.server import WsStats
from scsd.store import Reader, Store, open_reader, open_store
from scsd.ui import UiDeps, more_blueprint
from scsd.ui import blueprint as ui_blueprint

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Core:
    """What every scsd process shares: the database (writer and the watcher's reader), the
    hub and the watcher's state, who may do what, and the typing signals."""

    keys: Keys
    store: Store
    reader: Reader
    hub: Hub
    wakeup: watcher.Wakeup
    watcher: watcher.WatcherState
    gatekeeper: Gatekeeper
    cookies: SessionCookies
    typing: TypingSignals


@dataclass(frozen=True)
class Daemon:
    """The daemon's graph: the core, and the front ends ready to serve on their sockets."""

    core: Core
    http_sock: socket.socket
    ws_sock: socket.socket
    http_tls: ssl.SSLContext | None
    app: ASGIApp  # `/mcp` to FastMCP, the rest to Quart
    mcp_app: ASGIApp
    http_in_flight: InFlight
    mcp_calls: InFlight
    ws_config: WsConfig
    ws_stats: WsStats


def load_keys(config: Config, redact: Callable[[str], None] | None = None) -> Keys:
    """The data dir (created if needed) and its secrets; `redact` gets each secret in use.

    Raises:
        StartupError: the data dir is unwritable or the secrets file unreadable.
    """
    prepare_data_dir(config.data_dir)
    keys = load_or_create_keys(config)
    if redact is not None:
        for secret in (keys.api_key, keys.admin_key, keys.jwt_secret):
            redact(secret.reveal())
    return keys


@contextlib.asynccontextmanager
async def open_core(config: Config, keys: Keys) -> AsyncIterator[Core]:
    """Open the database and build the shared parts; close the database on exit.

    Raises:
        StartupError: the database cannot be opened.
    """
    wakeup, hub, state, gate = watcher.Wakeup(), Hub(config.subscriber_buffer), watcher.WatcherState(), Gate()
    shortcut = watcher.shortcut(hub, state)

    def own_message(message: Message) -> None:
        # A message this process just stored: published at once if it is next in line, and
        # its sender's typing indicator forgotten (subscribers clear it themselves).
        shortcut(message)
        gate.posted(message)

    async with (
        open_store(config.database, wakeup.set, on_message=own_message) as store,
        open_reader(config.database, commit_signal=config.commit_signal) as reader,
    ):
        authority = Authority(
            keys.api_key.reveal(), keys.admin_key.reveal(), keys.jwt_secret.reveal(), config.token_ttl_seconds
        )
        cookies = SessionCookies(keys.jwt_secret.reveal())
        gatekeeper = Gatekeeper(authority, store.is_revoked, cookies)
        yield Core(keys, store, reader, hub, wakeup, state, gatekeeper, cookies, TypingSignals(store, gate))


def stdio_services(core: Core, config: Config) -> Services:
    """The MCP tools' services for `scsd stdio`, acting as the configured local identity."""
    identity = local_identity(config.agent_id, config.agent_type)
    return Services(
        core.store, core.hub, core.gatekeeper, core.typing, mcp_server.http_headers, local_identity=identity
    )


@contextlib.asynccontextmanager
async def open_daemon(config: Config, redact: Callable[[str], None] | None = None) -> AsyncIterator[Daemon]:
    """The daemon's whole graph: secrets, TLS, both listening sockets bound (so a busy port
    is one clear error before anything else starts), the core, and the front ends.

    Raises:
        StartupError: a port is busy, the data dir is unwritable, the database unusable, a
            certificate or key is unusable.
    """
    keys = load_keys(config, redact)
    http_tls = ws_tls = None
    if config.certfile is not None and config.keyfile is not None:
        http_tls = tls.server_context(config.certfile, config.keyfile, tls.HTTP_ALPN)
        ws_tls = tls.server_context(config.certfile, config.keyfile, tls.WS_ALPN)
    with _bound(config) as (http_sock, ws_sock):
        async with open_core(config, keys) as core:
            yield _front_ends(config, core, http_sock, ws_sock, http_tls, ws_tls)


@contextlib.contextmanager
def _bound(config: Config) -> Iterator[tuple[socket.socket, socket.socket]]:
    with (
        net.bind(config.host, config.port, "HTTP", "pass --port (0 picks a free port)") as http_sock,
        net.bind(
            config.ws_host, config.ws_port, "WebSocket", "pass --ws-port (0 picks a free port)"
        ) as ws_sock,
    ):
        yield http_sock, ws_sock


def _front_ends(
    config: Config,
    core: Core,
    http_sock: socket.socket,
    ws_sock: socket.socket,
    http_tls: ssl.SSLContext | None,
    ws_tls: ssl.SSLContext | None,
) -> Daemon:
    hub, store, state = core.hub, core.store, core.watcher
    ws_stats = WsStats()
    svc = Services(
        store, hub, core.gatekeeper, core.typing, mcp_server.http_headers,
        runtime=lambda: runtime_report(hub, state, ws_stats),
    )  # fmt: skip
    mcp_app = mcp_server.http_app(mcp_server.build(svc))
    http_port = int(http_sock.getsockname()[1])
    origins = config.allowed_origins + net.ui_origins(config.host, http_port, tls=config.tls)
    health = HealthSources(store, hub, state, ws_stats)
    exporter = prometheus.Exporter(health, svc.metrics.snapshot)
    state.delivery = exporter.delivery.observe
    ui_deps = UiDeps(
        core.gatekeeper, core.cookies, core.keys, int(ws_sock.getsockname()[1]), core.typing,
        health=lambda: report(health),
    )  # fmt: skip
    web = app.create_app(
        health,
        ui_blueprint(store, ui_deps),
        sse.blueprint(hub, store, core.gatekeeper, sse.SseConfig(origins, config.sse_heartbeat_seconds)),
        prometheus.blueprint(exporter, health, core.keys.admin_key.reveal()),
        more_blueprint(store, ui_deps, config),  # memory, audit, client set-up pages
    )
    http_in_flight, mcp_calls = InFlight(), InFlight()
    ws_config = WsConfig(
        allowed_origins=origins,
        max_sockets_per_identity=config.max_sockets_per_identity,
        max_subscriptions_per_socket=config.max_subscriptions_per_socket,
        tls=ws_tls,
    )
    return Daemon(
        core, http_sock, ws_sock, http_tls,
        routing.route(web, mcp_app, http_in_flight, mcp_calls),  # type: ignore[arg-type]  # Quart's scope types are narrower
        mcp_app, http_in_flight, mcp_calls, ws_config, ws_stats,
    )  # fmt: skip
