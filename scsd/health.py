"""The `/health` report: is each component of the daemon up, and where is it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from scsd import __version__
from scsd.hub import Hub
from scsd.store import Store
from scsd.watcher import WatcherState
from scsd.ws import WsStats

# The watcher is "down" if it has not completed a poll for this long.
MAX_WATCHER_LAG_SECONDS: Final = 10.0


@dataclass(frozen=True)
class HealthSources:
    store: Store
    hub: Hub
    watcher: WatcherState
    ws: WsStats


async def report(src: HealthSources) -> tuple[dict[str, Any], bool]:
    """The health document of SPEC §6, and whether every component is up."""
    database: dict[str, Any] = {"path": str(src.store.path)}
    try:
        database.update(await src.store.statistics())
        database["status"] = "ok"
    except Exception as e:  # health must report a broken database, not crash on it
        database.update(status="error", error=str(e))
    lag = src.watcher.lag_seconds
    watcher_ok = src.watcher.running and lag <= MAX_WATCHER_LAG_SECONDS
    healthy = database["status"] == "ok" and watcher_ok and src.ws.port != 0
    hub = src.hub.statistics()
    return {
        "status": "ok" if healthy else "degraded",
        "version": __version__,
        "database": database,
        "websocket": {"host": src.ws.host, "port": src.ws.port, "connections": src.ws.connections},
        "watcher": {
            "status": "ok" if watcher_ok else "down",
            "last_id": src.watcher.last_id,
            "lag_seconds": round(lag, 3) if watcher_ok else None,
            "errors": src.watcher.errors,
        },
        "hub": {"subscribers": hub.subscribers, "dropped": hub.dropped, "published": hub.published},
    }, healthy
