"""The Web UI in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Locally the tests skip when Chromium is missing; with SCSD_REQUIRE_BROWSER=1 (CI) they fail.
Playwright's sync API runs in a worker thread; MCP calls go back to trio with from_thread.
SCSD_SCREENSHOTS=1 also writes the screenshots into docs/screenshots/.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
from conftest import Running
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
WAIT_MS = 15_000
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
LIVE = "Real-time updates active"


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    if os.environ.get("SCSD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and SCSD_REQUIRE_BROWSER=1: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")


@dataclass
class Seen:
    """What the browser did: dialogs opened, and every request and WebSocket it made."""

    dialogs: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


@contextmanager
def browser_page(running: Running) -> Iterator[tuple[Page, Seen]]:
    seen = Seen()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            context = browser.new_context(base_url=running.endpoints.http_url)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: seen.urls.append(r.url))
            page.on("websocket", lambda ws: seen.urls.append(ws.url))
            yield page, seen
        finally:
            browser.close()
    # Nothing but the daemon: no CDN, no other host, not even another port.
    e = running.endpoints
    allowed = {("127.0.0.1", e.http_port), ("127.0.0.1", e.ws_port)}
    for url in seen.urls:
        parts = urlsplit(url)
        assert (parts.hostname, parts.port) in allowed, url
    assert seen.dialogs == []


def sign_in(page: Page, key: str, agent_id: str, agent_type: str = "claude") -> None:
    page.goto("/ui/login")
    page.fill("#key", key)
    page.fill("#agent_id", agent_id)
    page.fill("#agent_type", agent_type)
    page.click("#sign-in")
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/ui/$"))


def mcp(running: Running, tool: str, **args: Any) -> dict[str, Any]:
    """An MCP call from the browser thread, run on the test's trio loop."""
    reply: dict[str, Any] = trio.from_thread.run(functools.partial(running.mcp().call, tool, **args))
    assert reply.get("success", True), reply
    return reply


async def in_browser(fn: Callable[[], None]) -> None:
    with trio.fail_after(120):
        await trio.to_thread.run_sync(fn, abandon_on_cancel=True)


def messages(page: Page, text: str) -> Any:
    return page.locator("#messages .content", has_text=text)


async def test_live_message_appears_once_without_reload(running: Running, tmp_path: Path) -> None:
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
            page.screenshot(path=str(tmp_path / "dashboard.png"), animations="disabled")
            page.click(f"a[href='/ui/sessions/{sid}']")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            expect(page.locator("#live-status")).to_have_attribute("aria-live", "polite")
            page.evaluate("window.__noReload = true")
            mcp(running, "add_message", session_id=sid, content="Live one", auth_token=alice)
            expect(messages(page, "Live one")).to_have_count(1)
            mcp(running, "add_message", session_id=sid, content="Live two", auth_token=alice)
            expect(messages(page, "Live two")).to_have_count(1)
            expect(messages(page, "Live one")).to_have_count(1)  # still once, after a later one
            expect(page.locator("#messages li")).to_have_count(3)
            assert page.evaluate("window.__noReload") is True
            expect(page.locator("#live-status")).to_have_text(LIVE)
            page.screenshot(path=str(tmp_path / "session.png"), animations="disabled")

    await in_browser(run)
    if os.environ.get("SCSD_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in ("dashboard.png", "session.png"):
            shutil.copy(tmp_path / name, SCREENSHOTS / name)
    assert (tmp_path / "session.png").stat().st_size > 0


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

            page.route_web_socket("**/ws*", refuse)
            sign_in(page, running.secrets["api_key"], "viewer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            assert len(attempts) == 3
            mcp(running, "add_message", session_id=sid, content="via SSE", auth_token=alice)
            expect(messages(page, "via SSE")).to_have_count(1)
            assert any("/events?token=" in u for u in seen.urls)

    await in_browser(run)
