"""The Web UI over HTTPS in a real headless Chromium: the session page goes live over WSS.

The certificate comes from a throwaway CA the browser does not know, so this test's browser
context alone ignores certificate errors. Helpers: browserkit (as test_ui_browser).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from playwright.sync_api import expect

from tests.kit.browser import LIVE, browser_page, in_browser, mcp, messages, require_chromium
from tests.kit.tls import TlsRunning, start_tls_daemon


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


@pytest.fixture
async def tls_running(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[TlsRunning]:
    running = await start_tls_daemon(nursery, tmp_path)
    try:
        yield running
    finally:
        running.stop.set()


async def test_session_page_over_https_goes_live_over_wss(tls_running: TlsRunning) -> None:
    alice = await tls_running.token("alice")
    sid = (await tls_running.mcp().call("create_session", purpose="Sealed", auth_token=alice))["session_id"]
    sockets: list[str] = []

    def run() -> None:
        with browser_page(tls_running, ignore_https_errors=True) as (page, seen):
            page.on("websocket", lambda ws: sockets.append(ws.url))
            page.goto("/ui/login")
            page.fill("#key", tls_running.secrets["api_key"])
            page.fill("#agent_id", "viewer")
            page.fill("#agent_type", "claude")
            page.click("#sign-in")
            expect(page).to_have_url(re.compile(r"^https://127\.0\.0\.1:\d+/ui/$"))
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            mcp(tls_running, "add_message", session_id=sid, content="Over the wire, sealed", auth_token=alice)
            expect(messages(page, "Over the wire, sealed")).to_have_count(1)
            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["scsd_ui"]["secure"] is True
        assert all(url.startswith("https://") for url in seen.urls if not url.startswith("wss://")), seen.urls

    await in_browser(run)
    ws_port = tls_running.endpoints.ws_port
    assert sockets and all(url.startswith(f"wss://127.0.0.1:{ws_port}/ws") for url in sockets), sockets
