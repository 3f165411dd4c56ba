"""The `/health` report: is each component of the daemon up, and where is it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from scsd import __version__
from scsd.errors import StoreUnavailable
from scsd.model import ListenerStats
from scsd.realtime.hub import Hub
from scsd.realtime.watcher import WatcherState
from scsd.store import Store

# The watcher is "down" if it has not completed a poll for this long, or for three of its
# poll intervals when it polls more rarely (with inotify the poll is only a safety net).
MAX_WATCHER_LAG_SECONDS: Final = 10.0


def watcher_lag_limit(watcher: WatcherState) -> float:
    return max(MAX_WATCHER_LAG_SECONDS, 3 * watcher.poll_seconds)


@dataclass(frozen=True)
class HealthSources:
    store: Store
    hub: Hub
    watcher: WatcherState
    ws: ListenerStats


def runtime_report(hub: Hub, watcher: WatcherState, ws: ListenerStats) -> dict[str, Any]:
    """The live components' counters, for health and `get_performance_metrics`."""
    stats = hub.statistics()
    lag = watcher.lag_seconds
    return {
        "websocket": {"host": ws.host, "port": ws.port, "connections": ws.connections,
                      "accepted": ws.accepted, "rejected": ws.rejected},
        "hub": {"subscribers": stats.subscribers, "dropped": stats.dropped, "published": stats.published},
        "watcher": {"last_id": watcher.last_id, "errors": watcher.errors,
                    "lag_seconds": round(lag, 3) if watcher.running else None,
                    "commit_signal": watcher.mode},
    }  # fmt: skip


async def report(src: HealthSources) -> tuple[dict[str, Any], bool]:
    """The health document of SPEC §6, and whether every component is up."""
    database: dict[str, Any] = {"path": str(src.store.path)}
    try:
        database.update(await src.store.statistics())
        database["status"] = "ok"
    except StoreUnavailable as e:
        database.update(status="error", error=str(e))
    watcher = src.watcher
    watcher_ok = (
        watcher.running and watcher.error is None and watcher.lag_seconds <= watcher_lag_limit(watcher)
    )
    healthy = database["status"] == "ok" and watcher_ok and src.ws.port != 0
    body = runtime_report(src.hub, src.watcher, src.ws)
    body["watcher"]["status"] = "ok" if watcher_ok else "down"
    if watcher.error is not None:
        body["watcher"]["error"] = watcher.error
    return {"status": "ok" if healthy else "degraded", "version": __version__, "database": database,
            **body}, healthy  # fmt: skip
