"""Typing indicators, who is watching, and the dashboard over SSE, in a real headless Chromium
against a real daemon (issues #5 and #9). Helpers: browserkit."""

from __future__ import annotations

import pytest
from browserkit import LIVE, browser_page, in_browser, mcp, require_chromium, sign_in
from conftest import Running
from playwright.sync_api import expect
from test_ui_live_fallbacks import refuse_websocket


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


async def test_dashboard_goes_live_over_sse_when_the_websocket_is_blocked(running: Running) -> None:
    alice = await running.token("alice")

    def run() -> None:
        with browser_page(running) as (page, seen):
            attempts: list[str] = []
            page.route_web_socket("**/ws*", refuse_websocket(attempts))
            sign_in(page, running.secrets["api_key"], "viewer")
            status = page.locator("#live-status")
            expect(status).to_have_attribute("data-transport", "sse")
            expect(status).to_have_text(LIVE)
            assert len(attempts) == 3
            page.evaluate("window.__noReload = true")
            sid = mcp(running, "create_session", purpose="found over SSE", auth_token=alice)["session_id"]
            row = page.locator(f"#sessions tr[data-session-id='{sid}']")
            expect(row.locator(".purpose")).to_have_text("found over SSE")
            mcp(running, "add_message", session_id=sid, content="one", auth_token=alice)
            expect(row.locator(".count")).to_have_text("1")
            expect(row.locator(".participants")).to_have_text("alice")
            expect(status).to_have_attribute("data-transport", "sse")  # never fell back to polling
            assert page.evaluate("window.__noReload") is True
            assert any("/ui/events?token=" in u for u in seen.urls)

    await in_browser(run)
