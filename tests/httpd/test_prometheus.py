"""`GET /metrics`: live counters in Prometheus text from a real daemon, and who may read them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from quart_trio import QuartTrio
from trio_websocket import open_websocket_url

from scsd.httpd import prometheus
from scsd.httpd.health import HealthSources
from scsd.mcp.metrics import Metrics
from scsd.model import ListenerStats
from scsd.realtime.hub import Hub
from scsd.realtime.watcher import WatcherState
from scsd.store import open_store
from tests.kit.clients import next_event
from tests.kit.daemon import Running

ADMIN: Final = "scsd_admin_" + "k" * 32
ELSEWHERE: Final = {"client": ("203.0.113.7", 40000)}  # TEST-NET-3: never loopback


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            assert isinstance(s, Sample)
            out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


async def test_loopback_scrape_reports_the_live_daemon(running: Running) -> None:
    count = 3
    with trio.fail_after(60):
        alice = await running.token("alice")
        created = await running.mcp().call("create_session", purpose="metrics", auth_token=alice)
        sid = created["session_id"]
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={alice}") as ws:
            await next_event(ws, "subscribed")
            adds = [("add_message", {"session_id": sid, "content": f"m{i}", "auth_token": alice})
                    for i in range(count)]  # fmt: skip
            replies = await running.mcp().calls(adds)
            assert all(r["success"] for r in replies), replies
            for _ in range(count):  # the watcher has published them: their latencies are in
                await next_event(ws, "new_message")
            url = f"{running.endpoints.http_url}/metrics"
            response = await trio.to_thread.run_sync(lambda: httpx.get(url, timeout=10))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    got = _samples(response.text)
    assert got["scsd_messages_total", ()] == count
    assert got["scsd_ws_connections", ()] == 1
    assert got["scsd_ws_accepted_total", ()] >= 1
    assert got["scsd_hub_subscribers", ()] >= 1
    assert got["scsd_hub_events_published_total", ()] >= count
    assert got["scsd_watcher_last_id", ()] >= count
    assert got["scsd_tool_calls_total", (("tool", "add_message"),)] == count
    assert got["scsd_tool_errors_total", (("tool", "add_message"),)] == 0
    assert got["scsd_delivery_latency_seconds_count", ()] >= count
    assert got["scsd_delivery_latency_seconds_bucket", (("le", "+Inf"),)] >= count
    assert got["scsd_delivery_latency_seconds_sum", ()] > 0
    assert got["scsd_database_up", ()] == 1
    assert got["scsd_uptime_seconds", ()] > 0


@pytest.mark.parametrize("addr", ["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"])
def test_loopback_needs_no_key(addr: str) -> None:
    assert prometheus.refusal(addr, "", "", ADMIN) is None


@pytest.mark.parametrize(
    ("addr", "authorization", "api_key", "allowed"),
    [
        ("203.0.113.7", "", "", False),
        ("203.0.113.7", f"Bearer {ADMIN}", "", True),
        ("203.0.113.7", f"bearer  {ADMIN} ", "", True),
        ("203.0.113.7", "", ADMIN, True),
        ("203.0.113.7", "Bearer not-the-key", "", False),
        ("203.0.113.7", "", ADMIN[:-1], False),
        ("203.0.113.7", ADMIN, "", False),  # no scheme: not a bearer token
        ("203.0.113.7", "Basic " + ADMIN, "", False),
        ("10.0.0.1", "", "", False),  # private is not loopback
        ("::2", "", "", False),
        (None, "", "", False),  # no peer address (say a Unix socket): not known to be local
        ("localhost", "", "", False),  # a name, not an address: never trusted
    ],
)
def test_elsewhere_needs_the_admin_key(
    addr: str | None, authorization: str, api_key: str, allowed: bool
) -> None:
    reason = prometheus.refusal(addr, authorization, api_key, ADMIN)
    assert (reason is None) == allowed
    if reason is not None:
        assert reason.count("\n") == 1 and reason.endswith("\n")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[QuartTrio]:
    async with open_store(tmp_path / "scsd.db") as store:
        sources = HealthSources(store, Hub(10), WatcherState(), ListenerStats())
        quart = QuartTrio(__name__)
        quart.register_blueprint(
            prometheus.blueprint(prometheus.Exporter(sources, Metrics().snapshot), sources, ADMIN)
        )
        yield quart


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 403),
        ({"Authorization": "Bearer wrong-key-wrong-key"}, 403),
        ({"Remote-Addr": "127.0.0.1"}, 403),  # a header can't claim to be local
        ({"Authorization": f"Bearer {ADMIN}"}, 200),
        ({"X-API-Key": ADMIN}, 200),
    ],
)
async def test_route_from_elsewhere(app: QuartTrio, headers: dict[str, str], status: int) -> None:
    with trio.fail_after(10):
        response = await app.test_client().get("/metrics", headers=headers, scope_base=ELSEWHERE)
        body = await response.get_data(as_text=True)
    assert response.status_code == status, body
    if status == 200:
        assert _samples(body)["scsd_messages_total", ()] == 0
    else:
        assert "admin key" in body and "scsd_" not in body


async def test_route_from_loopback_in_process(app: QuartTrio) -> None:
    with trio.fail_after(10):
        local = {"client": ("127.0.0.1", 40000)}
        response = await app.test_client().get("/metrics", scope_base=local)
        body = await response.get_data(as_text=True)
    assert response.status_code == 200, body
    assert response.content_type == prometheus.CONTENT_TYPE_LATEST
    assert _samples(body)["scsd_delivery_latency_seconds_count", ()] == 0


def test_two_exporters_do_not_share_state() -> None:
    """No global registry: two daemons in one process each count only their own."""
    sources = HealthSources(None, Hub(10), WatcherState(), ListenerStats())  # type: ignore[arg-type]
    one, two = (
        prometheus.Exporter(sources, Metrics().snapshot),
        prometheus.Exporter(sources, Metrics().snapshot),
    )
    one.delivery.observe(0.002)
    assert _samples(one.render(None).decode())["scsd_delivery_latency_seconds_count", ()] == 1
    two_samples = _samples(two.render(None).decode())
    assert two_samples["scsd_delivery_latency_seconds_count", ()] == 0
    assert two_samples["scsd_database_up", ()] == 0
    assert ("scsd_messages_total", ()) not in two_samples
