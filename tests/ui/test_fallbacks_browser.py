"""The live pages when real time fails: the daemon restarting under an open page, and the
periodic-refresh fallback after both the WebSocket and SSE fail. Real daemon, real Chromium."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from playwright.sync_api import Page, Route, expect

from scsd import daemon
from scsd.config import Config
from scsd.model import Endpoints, Identity
from scsd.process.sdnotify import Notifier
from scsd.store import open_store
from tests.kit.browser import (
    LIVE,
    browser_page,
    in_browser,
    mcp,
    messages,
    refuse_websocket,
    require_chromium,
    sign_in,
)
from tests.kit.daemon import Running, free_port, make_config

RESTART_WAIT_MS = 45_000  # backoff after a restart can reach 4-8 s; a busy machine adds more
POLLING = "refreshing every"


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


class Restartable:
    """A daemon on fixed ports that the test can stop and start again, each run in its own
    task of the test's nursery."""

    def __init__(self, nursery: trio.Nursery, config: Config) -> None:
        self._nursery = nursery
        self.config = config
        self._stop = trio.Event()
        self._stopped = trio.Event()

    async def start(self) -> Endpoints:
        self._stop, self._stopped = trio.Event(), trio.Event()
        with trio.fail_after(30):
            endpoints: Endpoints = await self._nursery.start(self._run, self._stop, self._stopped)
        return endpoints

    async def _run(self, stop: trio.Event, stopped: trio.Event, *, task_status: Any) -> None:
        try:
            await daemon.run(self.config, stop.wait, Notifier({}), task_status=task_status)
        finally:
            stopped.set()

    async def stop(self) -> None:
        self._stop.set()
        with trio.fail_after(30):
            await self._stopped.wait()


def on_trio(fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return trio.from_thread.run(fn, *args)


def ids_on_page(page: Page) -> list[int]:
    ids: list[int] = page.eval_on_selector_all("#messages > li", "els => els.map(e => Number(e.dataset.id))")
    return ids


async def test_page_survives_a_daemon_restart_and_gets_the_missed_messages_once(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    config = make_config(tmp_path, port=free_port(), ws_port=free_port())
    server = Restartable(nursery, config)
    endpoints = await server.start()
    secrets = json.loads((config.data_dir / "secrets.json").read_text())
    running = Running(config, endpoints, secrets, trio.Event())
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="restart", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content="before", auth_token=alice)

    async def write_while_down() -> None:
        writer = Identity("alice", "claude", frozenset({"read", "write"}))
        async with open_store(config.database) as store:
            for n in range(1, 4):
                await store.add_message(sid, writer, f"during outage {n}", "public", {}, None)

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, secrets["api_key"], "viewer")
            page.goto(f"/ui/sessions/{sid}")
            status = page.locator("#live-status")
            expect(status).to_have_text(LIVE)
            expect(status).to_have_attribute("data-transport", "websocket")
            page.evaluate("window.__noReload = true")

            on_trio(server.stop)
            expect(status).to_have_text("Reconnecting…")
            on_trio(write_while_down)
            assert on_trio(server.start) == endpoints
            expect(status).to_have_text(LIVE, timeout=RESTART_WAIT_MS)
            for n in range(1, 4):
                expect(messages(page, f"during outage {n}")).to_have_count(1)
            mcp(running, "add_message", session_id=sid, content="after restart", auth_token=alice)
            expect(messages(page, "after restart")).to_have_count(1)
            texts = page.locator("#messages > li .content").all_inner_texts()
            assert texts == [
                "before",
                "during outage 1",
                "during outage 2",
                "during outage 3",
                "after restart",
            ]
            ids = ids_on_page(page)
            assert ids == sorted(set(ids))
            assert page.evaluate("window.__noReload") is True

    try:
        await in_browser(run, seconds=180)
    finally:
        await server.stop()


async def test_session_page_falls_back_to_periodic_refresh(running: Running) -> None:
    alice, dave = await running.token("alice"), await running.token("dave", "gemini")
    sid = (await running.mcp().call("create_session", purpose="polling", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content="shown at load", auth_token=alice)

    def run() -> None:
        with browser_page(running) as (page, seen):
            sign_in(page, running.secrets["api_key"], "viewer")
            ws_attempts: list[str] = []
            sse_attempts: list[str] = []

            def abort(route: Route) -> None:
                sse_attempts.append(route.request.url)
                route.abort()

            page.route_web_socket("**/ws*", refuse_websocket(ws_attempts))
            page.route("**/events?*", abort)
            page.goto(f"/ui/sessions/{sid}")
            status = page.locator("#live-status")
            expect(status).to_contain_text(POLLING)
            expect(status).to_have_attribute("data-transport", "poll")
            expect(status).to_have_class("status status-polling")
            assert len(ws_attempts) == 3 and len(sse_attempts) == 3
            mcp(running, "add_message", session_id=sid, content="polled one", auth_token=alice)
            mcp(
                running,
                "add_message",
                session_id=sid,
                content="hidden",
                visibility="private",
                auth_token=dave,
            )
            mcp(running, "add_message", session_id=sid, content="polled two", auth_token=alice)
            expect(messages(page, "polled two")).to_have_count(1)
            expect(messages(page, "polled one")).to_have_count(1)
            expect(messages(page, "shown at load")).to_have_count(1)
            expect(messages(page, "hidden")).to_have_count(0)
            assert any("/messages?since_id=" in u for u in seen.urls)
            expect(status).to_contain_text(POLLING)

    await in_browser(run)


async def test_dashboard_falls_back_to_periodic_refresh(running: Running) -> None:
    alice = await running.token("alice")

    def run() -> None:
        with browser_page(running) as (page, _):
            attempts: list[str] = []
            sse_attempts: list[str] = []

            def abort(route: Route) -> None:
                sse_attempts.append(route.request.url)
                route.abort()

            page.route_web_socket("**/ws*", refuse_websocket(attempts))
            page.route("**/ui/events?*", abort)
            sign_in(page, running.secrets["api_key"], "viewer")
            status = page.locator("#live-status")
            expect(status).to_contain_text(POLLING)
            assert len(attempts) == 3 and len(sse_attempts) == 3
            sid = mcp(running, "create_session", purpose="found by polling", auth_token=alice)["session_id"]
            row = page.locator(f"#sessions tr[data-session-id='{sid}']")
            expect(row.locator(".purpose")).to_have_text("found by polling")
            mcp(running, "add_message", session_id=sid, content="one", auth_token=alice)
            expect(row.locator(".count")).to_have_text("1")
            expect(row.locator(".participants")).to_have_text("alice")
            expect(page.locator("#sessions tbody tr")).to_have_count(1)

    await in_browser(run)
