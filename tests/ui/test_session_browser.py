"""The Web UI in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
live messages, XSS under CSP, the post form, visibility, the SSE fallback. Helpers: browserkit.

The screenshots in docs/screenshots/ come from test_ui_live.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.kit.browser import (
    LIVE,
    browser_page,
    in_browser,
    mcp,
    messages,
    require_chromium,
    sign_in,
)
from tests.kit.daemon import Running


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


async def test_live_message_appears_once_without_reload(running: Running) -> None:
    alice = await running.token("alice")
    created = await running.mcp().call("create_session", purpose="Release checklist", auth_token=alice)
    sid = created["session_id"]
    await running.mcp().call("add_message", session_id=sid, content="Build is green.\nShipping soon.",
                             auth_token=alice)  # fmt: skip

    def run() -> None:
        with browser_page(running) as (page, _):
            page.set_viewport_size({"width": 1100, "height": 700})
            sign_in(page, running.secrets["api_key"], "viewer")
            expect(page.locator("#sessions")).to_contain_text("Release checklist")
            page.click(f"a[href='/ui/sessions/{sid}']")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            expect(page.locator("#live-status")).to_have_attribute("aria-live", "polite")
            page.evaluate("window.__noReload = true")
            mcp(running, "add_message", session_id=sid, content="Live one", auth_token=alice)
            expect(messages(page, "Live one")).to_have_count(1)
            mcp(running, "add_message", session_id=sid, content="Live two", auth_token=alice)
            expect(messages(page, "Live two")).to_have_count(1)
            expect(messages(page, "Live one")).to_have_count(1)  # still once, after a later one
            expect(page.locator("#messages > li")).to_have_count(3)
            assert page.evaluate("window.__noReload") is True
            expect(page.locator("#live-status")).to_have_text(LIVE)

    await in_browser(run)


async def test_xss_payloads_render_as_text_under_csp(running: Running) -> None:
    payload = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    evil = await running.token("<script>alert('id')</script>")
    sid = (await running.mcp().call("create_session", purpose=payload, auth_token=evil))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content=payload, auth_token=evil)

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            expect(page.locator("#sessions")).to_contain_text(payload)
            response = page.goto(f"/ui/sessions/{sid}")
            assert response is not None
            assert "script-src 'self'" in response.headers["content-security-policy"]
            expect(page.locator("#purpose")).to_have_text(payload)
            expect(page.locator("#live-status")).to_have_text(LIVE)
            mcp(running, "add_message", session_id=sid, content="live " + payload, auth_token=evil)
            expect(messages(page, "live " + payload)).to_have_count(1)
            expect(page.locator("#messages .sender").last).to_have_text("<script>alert('id')</script>")
            assert page.locator("#messages img, #messages script").count() == 0

    await in_browser(run)


async def test_post_form_csrf_and_logout(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="posting", auth_token=alice))["session_id"]

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "human", "developer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            page.fill("#content", "Posted from the browser")
            page.click("#post")
            expect(messages(page, "Posted from the browser")).to_have_count(1)
            expect(page.locator("#live-status")).to_have_text(LIVE)
            expect(messages(page, "Posted from the browser")).to_have_count(1)
            # The browser's cookie without the form's token: rejected.
            r = page.context.request.post(f"/ui/sessions/{sid}/messages", form={"content": "forged"},
                                          max_redirects=0)  # fmt: skip
            assert r.status == 403
            page.click("#logout")
            expect(page).to_have_url(f"{running.endpoints.http_url}/ui/login")
            page.goto("/ui/")
            expect(page).to_have_url(f"{running.endpoints.http_url}/ui/login")

    await in_browser(run)
    reply = await running.mcp().call("get_messages", session_id=sid, auth_token=alice)
    assert [(m["sender"], m["content"]) for m in reply["messages"]] == [("human", "Posted from the browser")]


async def test_non_admin_never_sees_private_messages_rendered_or_live(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="visibility", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content="old secret", visibility="private",
                             auth_token=alice)  # fmt: skip

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "bob", "gemini")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            mcp(running, "add_message", session_id=sid, content="new secret", visibility="private",
                auth_token=alice)  # fmt: skip
            mcp(running, "add_message", session_id=sid, content="after", auth_token=alice)
            expect(messages(page, "after")).to_have_count(1)  # delivered in id order: secret was skipped
            expect(messages(page, "secret")).to_have_count(0)
            assert "secret" not in page.content()

    await in_browser(run)


async def test_falls_back_to_sse_when_the_websocket_keeps_failing(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="fallback", auth_token=alice))["session_id"]

    def run() -> None:
        with browser_page(running) as (page, seen):
            attempts: list[str] = []

            def refuse(ws: Any) -> None:
                attempts.append(ws.url)
                ws.close(code=1011, reason="test: refused")

            sign_in(page, running.secrets["api_key"], "viewer")  # the dashboard connects for real
            page.route_web_socket("**/ws*", refuse)
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            assert len(attempts) == 3
            mcp(running, "add_message", session_id=sid, content="via SSE", auth_token=alice)
            expect(messages(page, "via SSE")).to_have_count(1)
            assert any("/events?token=" in u for u in seen.urls)

    await in_browser(run)
