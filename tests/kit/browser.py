"""Helpers for the browser tests: Debian's /usr/bin/chromium driven by Playwright's sync API
in a worker thread (MCP calls go back to trio with `from_thread`).

Locally the tests skip when Chromium is missing; with SCSD_REQUIRE_BROWSER=1 (CI) they fail.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
import trio
from playwright.sync_api import Locator, Page, WebSocketRoute, expect, sync_playwright

from tests.kit.daemon import Running

CHROMIUM: Final = Path("/usr/bin/chromium")
ARGS: Final = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
WAIT_MS: Final = 15_000
SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LIVE: Final = "Real-time updates active"
PHONE: Final = {"width": 375, "height": 740}


def require_chromium() -> None:
    """Skip (or, with SCSD_REQUIRE_BROWSER=1, fail) when Chromium is not installed."""
    if os.access(CHROMIUM, os.X_OK):
        return
    if os.environ.get("SCSD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and SCSD_REQUIRE_BROWSER=1: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")


def screenshots_wanted() -> bool:
    return os.environ.get("SCSD_SCREENSHOTS") == "1"


@dataclass
class Seen:
    """What the browser did: dialogs opened, and every request and WebSocket it made."""

    dialogs: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


@contextmanager
def browser_page(running: Running, **context_options: Any) -> Iterator[tuple[Page, Seen]]:
    """A fresh browser and page on the daemon's UI; afterwards, checks that the page opened
    no dialog and talked to nothing but the daemon's two ports."""
    seen = Seen()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            context = browser.new_context(base_url=running.endpoints.http_url, **context_options)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            expect.set_options(timeout=WAIT_MS)
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
    page.wait_for_load_state()  # the page's modules have run: its buttons work


def mcp(running: Running, tool: str, **args: Any) -> dict[str, Any]:
    """An MCP call from the browser thread, run on the test's trio loop."""
    reply: dict[str, Any] = trio.from_thread.run(functools.partial(running.mcp().call, tool, **args))
    assert reply.get("success", True), reply
    return reply


async def in_browser(fn: Callable[[], None], seconds: float = 120) -> None:
    with trio.fail_after(seconds):
        await trio.to_thread.run_sync(fn, abandon_on_cancel=True)


def messages(page: Page, text: str) -> Locator:
    return page.locator("#messages .content", has_text=text)


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    if width[0] > width[1]:
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > innerWidth)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className)"
        )
        raise AssertionError(f"scrollWidth {width[0]} > innerWidth {width[1]} on {page.url}: {wide}")


def tab_until(page: Page, selector: str, presses: int = 80) -> int:
    """Press Tab until `selector` has the focus; the number of presses it took."""
    for n in range(1, presses + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return n
    raise AssertionError(f"{selector} never got the focus in {presses} Tab presses")


def refuse_websocket(attempts: list[str]) -> Callable[[WebSocketRoute], None]:
    def refuse(ws: WebSocketRoute) -> None:
        attempts.append(ws.url)
        ws.close(code=1011, reason="test: refused")

    return refuse
