"""The daemon: one root nursery supervising the watcher, HTTP (+MCP, UI) and WebSocket (R3).

Nurseries and start/stop order only; `scsd.assemble` builds what runs here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from scsd import __version__, assemble
from scsd.config import Config
from scsd.httpd import serving
from scsd.mcp import server as mcp_server
from scsd.mcp import stdio
from scsd.model import Endpoints
from scsd.process import runtime
from scsd.process.sdnotify import Notifier
from scsd.realtime import watcher
from scsd.realtime.ws import server as ws_server
from scsd.store import sweeper

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

    Start order: sockets bound, store, watcher (baseline read), sweeper, presence, MCP
    session manager, HTTP, WebSocket; stop order is the reverse. `task_status.started()`
    receives the bound endpoints once everything accepts connections; from then until the
    stop, the runtime file in the data dir records them (`scsd.process.runtime`). `redact`, if given,
    receives each secret in use (agent key, admin key, JWT secret) so that logging can mask it.

    Raises:
        StartupError: a port is busy, the data dir is unwritable, the database unusable.
    """
    async with assemble.open_daemon(config, redact) as d:
        core, grace = d.core, config.shutdown_grace_seconds
        draining = trio.Event()
        async with trio.open_nursery() as core_tasks:
            await _start_watcher(core_tasks, core, config)
            await core_tasks.start(sweeper.run, core.store, config.sweep_interval_seconds)
            await core_tasks.start(core.hub.announce_presence)
            if notifier.watchdog_seconds:
                core_tasks.start_soon(_watchdog, notifier, core.watcher)
            async with trio.open_nursery() as edge:
                await edge.start(
                    mcp_server.run_session_manager, d.mcp_app, d.mcp_calls.wait_idle, draining.wait
                )
                http_port = await edge.start(
                    serving.serve, d.app, d.http_sock, draining.wait, grace, d.http_in_flight, d.http_tls
                )
                ws_port = await edge.start(
                    ws_server.serve, core.hub, core.store, core.gatekeeper, core.typing, d.ws_config,
                    d.ws_sock, draining.wait, d.ws_stats,
                )  # fmt: skip
                endpoints = Endpoints(config.host, http_port, config.ws_host, ws_port, config.tls)
                # Recorded for subcommands before anyone is told we are ready.
                with runtime.recorded(config.data_dir, endpoints, __version__):
                    logger.info(
                        "scsd ready: UI %s/ui/  MCP %s/mcp  WebSocket %s/ws  secrets %s",
                        endpoints.http_url,
                        endpoints.http_url,
                        endpoints.ws_url,
                        core.keys.path,
                    )
                    task_status.started(endpoints)
                    await wait_for_shutdown()
                logger.info("shutting down: draining for up to %.1fs", grace)
                draining.set()  # hypercorn drains; WebSockets close with 1001
                core.hub.close()  # live streams (SSE, waits) end now rather than at the deadline
                edge.cancel_scope.deadline = trio.current_time() + grace
            core_tasks.cancel_scope.cancel()


async def run_stdio(config: Config) -> None:
    """`scsd stdio`: serve MCP over stdin/stdout until the client closes stdin.

    Writes commit to the shared database; the daemon's watcher delivers them to browsers
    and sockets. This process runs its own watcher too, so `wait_for_messages` wakes for
    messages written by the daemon or any other process. No listener is opened here.
    """
    keys = assemble.load_keys(config)
    async with assemble.open_core(config, keys) as core:
        svc = assemble.stdio_services(core, config)
        assert svc.local_identity is not None
        logger.info(
            "scsd stdio: serving MCP as %s (%s) on %s",
            svc.local_identity.agent_id,
            svc.local_identity.agent_type,
            config.database,
        )
        async with trio.open_nursery() as nursery:
            await _start_watcher(nursery, core, config)
            await stdio.serve(svc)
            nursery.cancel_scope.cancel()


async def _start_watcher(nursery: trio.Nursery, core: assemble.Core, config: Config) -> None:
    """The commit signal first (so no commit after the watcher's baseline goes unnoticed),
    then the watcher, polling at `poll_seconds`, or only every `safety_poll_seconds` when
    the kernel tells it of other processes' commits."""
    mode = core.watcher.mode = await nursery.start(core.reader.signal_commits, core.wakeup.set)
    poll = config.poll_seconds if mode == "poll" else max(config.poll_seconds, config.safety_poll_seconds)
    await nursery.start(watcher.run, core.reader, core.hub, core.wakeup, poll, core.watcher)


async def _watchdog(notifier: Notifier, state: watcher.WatcherState) -> None:
    """Pet systemd's watchdog while the event loop runs and the watcher keeps polling."""
    assert notifier.watchdog_seconds is not None
    while True:
        # Sleep first: the first WATCHDOG=1 then follows READY=1, as systemd expects.
        await trio.sleep(notifier.watchdog_seconds / 3)
        # A watcher that polls only as a safety net (inotify) may lag one interval more.
        if state.running and state.lag_seconds < notifier.watchdog_seconds + state.poll_seconds:
            notifier.notify("WATCHDOG=1")
