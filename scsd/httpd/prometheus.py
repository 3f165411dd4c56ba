"""`GET /metrics`: the daemon's counters in Prometheus text format, read live at scrape time.

Access: loopback clients need no credentials; anyone else must send the admin key
(`Authorization: Bearer <admin key>` or `X-API-Key: <admin key>`), else 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from quart import Blueprint, Response, request

from scsd.access.gatekeeper import bearer_token
from scsd.errors import StoreUnavailable
from scsd.httpd.health import HealthSources

logger = logging.getLogger(__name__)

# Delivery is a poll interval (0.1 s by default) or a wakeup away: ms-range, with a tail to 1 s.
DELIVERY_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
REFUSED: Final = (
    "403 Forbidden: /metrics is open to loopback clients only; "
    "from elsewhere send the admin key (Authorization: Bearer or X-API-Key)\n"
)


class Exporter:
    """One daemon's metrics: a private registry (never the global default one) holding a
    collector that reads the live components at scrape time, and the delivery histogram.

    Set `watcher_state.delivery = exporter.delivery.observe` to feed the histogram.
    """

    def __init__(self, sources: HealthSources, tool_metrics: Callable[[], Mapping[str, Any]]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._live = _LiveCollector(sources, tool_metrics)
        self.registry.register(self._live)
        self.delivery = Histogram(
            "scsd_delivery_latency_seconds",
            "Time from a message being accepted to the watcher publishing it to subscribers.",
            buckets=DELIVERY_BUCKETS,
            registry=self.registry,
        )

    def render(self, database: Mapping[str, int] | None) -> bytes:
        """The Prometheus text exposition; `database` is `Store.statistics()`, or None if
        the database could not be read (then `scsd_database_up` is 0)."""
        self._live.database = database  # set and read with no await in between
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    def __init__(self, sources: HealthSources, tool_metrics: Callable[[], Mapping[str, Any]]) -> None:
        self._src = sources
        self._tool_metrics = tool_metrics  # the MCP tools' `Metrics.snapshot`
        self.database: Mapping[str, int] | None = None

    def collect(self) -> Iterator[Metric]:
        db = self.database
        yield GaugeMetricFamily("scsd_database_up", "1 if the database answered.", int(db is not None))
        if db is not None:
            yield CounterMetricFamily("scsd_messages_total", "Messages in the database.", db["messages"])
            yield GaugeMetricFamily("scsd_sessions", "Sessions in the database.", db["sessions"])
            yield GaugeMetricFamily("scsd_memory_entries", "Memory entries stored.", db["memory_entries"])
        calls = CounterMetricFamily("scsd_tool_calls", "MCP tool calls, by tool.", labels=["tool"])
        errors = CounterMetricFamily("scsd_tool_errors", "MCP tool calls that failed.", labels=["tool"])
        tools = self._tool_metrics()
        for tool, summary in tools["tools"].items():
            calls.add_metric([tool], summary["calls"])
            errors.add_metric([tool], summary["errors"])
        yield calls
        yield errors
        hub = self._src.hub.statistics()
        yield CounterMetricFamily("scsd_hub_events_published", "Changes published.", hub.published)
        yield GaugeMetricFamily("scsd_hub_subscribers", "Open subscriptions (sockets, SSE).", hub.subscribers)
        yield CounterMetricFamily("scsd_hub_dropped", "Slow consumers cut off.", hub.dropped)
        ws = self._src.ws
        yield GaugeMetricFamily("scsd_ws_connections", "Open WebSocket connections.", ws.connections)
        yield CounterMetricFamily("scsd_ws_accepted", "WebSocket connections accepted.", ws.accepted)
        yield CounterMetricFamily("scsd_ws_rejected", "WebSocket connections refused.", ws.rejected)
        watcher = self._src.watcher
        yield GaugeMetricFamily("scsd_watcher_last_id", "Newest message id published.", watcher.last_id)
        yield GaugeMetricFamily(
            "scsd_watcher_lag_seconds", "Seconds since the watcher last caught up.", watcher.lag_seconds
        )
        yield CounterMetricFamily("scsd_watcher_errors", "Failed watcher polls.", watcher.errors)
        yield GaugeMetricFamily(
            "scsd_uptime_seconds", "Seconds since the daemon started.", tools["uptime_seconds"]
        )


def refusal(remote_addr: str | None, authorization: str, api_key: str, admin_key: str) -> str | None:
    """Why a `/metrics` request is refused, or None if it is allowed.

    Args:
        remote_addr: the peer's IP address from the connection (never from a header).
        authorization: the `Authorization` header ("" if absent).
        api_key: the `X-API-Key` header ("" if absent).
        admin_key: the daemon's admin key.
    """
    if _is_loopback(remote_addr):
        return None
    for given in (bearer_token(authorization) or "", api_key.strip()):
        if given and hmac.compare_digest(given.encode(), admin_key.encode()):
            return None
    return REFUSED


def _is_loopback(remote_addr: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def blueprint(exporter: Exporter, sources: HealthSources, admin_key: str) -> Blueprint:
    """The `/metrics` route, a closure over the exporter, the store and the admin key."""
    bp = Blueprint("prometheus", __name__)

    @bp.get("/metrics")
    async def get_metrics() -> Response:
        client = request.scope.get("client")
        reason = refusal(
            client[0] if client else None,
            request.headers.get("Authorization", ""),
            request.headers.get("X-API-Key", ""),
            admin_key,
        )
        if reason is not None:
            return Response(reason, 403, content_type="text/plain; charset=utf-8")
        try:
            database: Mapping[str, int] | None = await sources.store.statistics()
        except StoreUnavailable as e:
            logger.warning("metrics: database unavailable (%s)", e)
            database = None
        return Response(exporter.render(database), 200, content_type=CONTENT_TYPE_LATEST)

    return bp
