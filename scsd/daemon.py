"""The daemon: one root nursery supervising the watcher, HTTP (+MCP, UI) and WebSocket (R3)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from scsd import asgi, mcp_tools, net, prometheus, sse, sweeper, tls, ui, watcher, webapp, ws
from scsd.auth import Authority
from scsd.config import Config
from scsd.events import Endpoints
from scsd.health import HealthSources, runtime_report
from scsd.hub import Hub
from scsd.inflight import InFlight
from scsd.keys import load_or_create_keys, prepare_data_dir
from scsd.sdnotify import Notifier
from scsd.store import open_reader, open_store
from scsd.tools import Services

logger = logging.getLogger(__name__)


async def run(
    config: Config,
    wait_for_shutdown: Callable[[], Awaitable[object]],
    notifier: Notifier,
    *,
    redact: Callable[[str], None] | None = None,
    task_status: trio.TaskStatus[Endpoints] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run all services until `wait_for_shutdown` returns, then drain and stop.

    Start order: sockets bound, store, watcher (baseline read), MCP session manager, HTTP,
    WebSocket; stop order is the reverse. `task_status.started()` receives the bound
    endpoints once everything accepts connections. `redact`, if given, receives each secret
    in use (agent key, admin key, JWT secret) so that logging can mask it.

    Raises:
        StartupError: a port is busy, the data dir is unwritable, the database unusable.
    """
    prepare_data_dir(config.data_dir)
    keys = load_or_create_keys(config)
    http_tls = ws_tls = None
    if config.certfile is not None and config.keyfile is not None:
        http_tls = tls.server_context(config.certfile, config.keyfile, tls.HTTP_ALPN)
        ws_tls = tls.server_context(config.certfile, config.keyfile, tls.WS_ALPN)
    if redact is not None:
        for secret in (keys.api_key, keys.admin_key, keys.jwt_secret):
            redact(secret.reveal())
    http_sock = net.bind(config.host, config.port, "HTTP", "pass --port (0 picks a free port)")
    with (
        http_sock,
        net.bind(
            config.ws_host, config.ws_port, "WebSocket", "pass --ws-port (0 picks a free port)"
        ) as ws_sock,
    ):
        wakeup = watcher.Wakeup()
        hub = Hub(config.subscriber_buffer)
        watcher_state, ws_stats = watcher.WatcherState(), ws.WsStats()
        own_messages = watcher.shortcut(hub, watcher_state)
        async with (
            open_store(config.database, wakeup.set, on_message=own_messages) as store,
            open_reader(config.database) as reader,
        ):
            authority = Authority(
                keys.api_key.reveal(),
                keys.admin_key.reveal(),
                keys.jwt_secret.reveal(),
                config.token_ttl_seconds,
            )
            svc = Services(
                store, hub, authority, mcp_tools.http_headers,
                runtime=lambda: runtime_report(hub, watcher_state, ws_stats),
            )  # fmt: skip
            mcp_app = mcp_tools.http_app(mcp_tools.build(svc))
            http_port = int(http_sock.getsockname()[1])
            origins = config.allowed_origins + net.ui_origins(config.host, http_port, tls=config.tls)
            ui_deps = ui.UiDeps(keys, int(ws_sock.getsockname()[1]))
            from_cookie = ui.UiAuth(ui_deps).identity_from_cookie_header
            live = sse.blueprint(
                hub, store, authority, sse.SseConfig(origins, config.sse_heartbeat_seconds, from_cookie)
            )
            health = HealthSources(store, hub, watcher_state, ws_stats)
            exporter = prometheus.Exporter(health, svc.metrics)
            watcher_state.delivery = exporter.delivery.observe
            scrape = prometheus.blueprint(exporter, health, keys.admin_key.reveal())
            more = ui.more_blueprint(store, ui_deps, config)  # memory, audit, client set-up pages
            web = webapp.create_app(store, health, live, scrape, more, ui_deps=ui_deps)
            http_in_flight, mcp_calls = InFlight(), InFlight()
            app = asgi.route(web, mcp_app, http_in_flight, mcp_calls)  # type: ignore[arg-type]  # Quart's scope types are narrower
            ws_cfg = ws.WsConfig(
                allowed_origins=origins,
                max_sockets_per_identity=config.max_sockets_per_identity,
                max_subscriptions_per_socket=config.max_subscriptions_per_socket,
                cookie_identity=from_cookie,
                tls=ws_tls,
            )
            draining = trio.Event()
            grace = config.shutdown_grace_seconds
            async with trio.open_nursery() as core:
                await core.start(watcher.run, reader, hub, wakeup, config.poll_seconds, watcher_state)
                await core.start(sweeper.run, store, config.sweep_interval_seconds)
                await core.start(hub.announce_presence)
                if notifier.watchdog_seconds:
                    core.start_soon(_watchdog, notifier, watcher_state)
                async with trio.open_nursery() as edge:
                    await edge.start(mcp_tools.run_session_manager, mcp_app, mcp_calls, draining.wait)
                    http_port = await edge.start(
                        asgi.serve, app, http_sock, draining.wait, grace, http_in_flight, http_tls
                    )
                    ws_port = await edge.start(
                        ws.serve, hub, store, authority, ws_cfg, ws_sock, draining.wait, ws_stats
                    )
                    endpoints = Endpoints(config.host, http_port, config.ws_host, ws_port, config.tls)
                    logger.info(
                        "scsd ready: UI %s/ui/  MCP %s/mcp  WebSocket %s/ws  secrets %s",
                        endpoints.http_url,
                        endpoints.http_url,
                        endpoints.ws_url,
                        keys.path,
                    )
                    task_status.started(endpoints)
                    await wait_for_shutdown()
                    logger.info("shutting down: draining for up to %.1fs", grace)
                    draining.set()  # hypercorn drains; WebSockets close with 1001
                    hub.close()  # live streams (SSE, waits) end now rather than at the deadline
                    edge.cancel_scope.deadline = trio.current_time() + grace
                core.cancel_scope.cancel()


async def _watchdog(notifier: Notifier, state: watcher.WatcherState) -> None:
    """Pet systemd's watchdog while the event loop runs and the watcher keeps polling."""
    assert notifier.watchdog_seconds is not None
    while True:
        # Sleep first: the first WATCHDOG=1 then follows READY=1, as systemd expects.
        await trio.sleep(notifier.watchdog_seconds / 3)
        if state.running and state.lag_seconds < notifier.watchdog_seconds:
            notifier.notify("WATCHDOG=1")
