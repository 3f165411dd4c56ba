"""The UI on a 390 x 844 phone in a real Chromium (issue 16, item 5): the connection status
stays in view at the bottom of a long session, targets are finger-sized (24 px, 44 px for
primary actions), nothing scrolls sideways; and on any screen the page reconnects at once when
the network comes back, when it becomes visible again, or on "Retry now"."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.kit.browser import (
    LIVE,
    browser_page,
    in_browser,
    mcp,
    no_horizontal_scroll,
    require_chromium,
    sign_in,
)
from tests.kit.daemon import Running
from tests.kit.uipage import PHONE, box

TARGETS = """() => [...document.querySelectorAll(
    "button, input:not([type=hidden]), select, textarea, summary, a[href]")]
  .filter(e => e.getClientRects().length > 0 && !e.closest(".content, p, td, dd, .hint, h1, .meta"))
  .map(e => { const r = e.getBoundingClientRect();
    return [e.id || e.className || e.tagName, r.width, r.height]; })"""


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


def small_targets(page: Page) -> list[Any]:
    found: list[list[Any]] = page.evaluate(TARGETS)
    return [t for t in found if t[1] < 24 or t[2] < 24]


async def test_status_stays_in_view_at_the_bottom_of_a_long_session(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="a long one", auth_token=alice))["session_id"]
    calls = [("add_message", {"session_id": sid, "content": f"message {n}\n\n" + "words " * 30,
              "auth_token": alice}) for n in range(80)]  # fmt: skip
    await running.mcp().calls(calls)
    wide = "```\n" + "wide " * 80 + "\n```\n\n| a | b |\n|---|---|\n| " + "x" * 300 + " | y |"
    await running.mcp().call("add_message", session_id=sid, content=wide, auth_token=alice)

    def run() -> None:
        with browser_page(running, viewport=PHONE) as (page, _):
            sign_in(page, running.secrets["api_key"], "human", "developer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            page.keyboard.press("End")
            page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
            expect(page.locator("#post")).to_be_in_viewport()  # at the very bottom
            expect(page.locator("#live-status")).to_be_in_viewport()
            status = box(page, "#connection")
            assert status["y"] >= 0 and status["y"] + status["height"] <= PHONE["height"]
            header = box(page, "header.site")
            assert header["y"] == 0 and header["height"] <= 64, header  # compact: under 8 % of the screen
            no_horizontal_scroll(page)
            # Wide code scrolls in its own box, which the keyboard can reach; tables wrap.
            expect(page.locator("#messages .content pre")).to_have_attribute("tabindex", "0")
            table = box(page, "#messages .content table")
            assert table["x"] + table["width"] <= PHONE["width"]
            for path in ("/ui/", "/ui/memory", "/ui/clients", "/ui/health"):
                page.goto(path)
                no_horizontal_scroll(page)
                assert box(page, "header.site")["height"] <= 64, path
            page.locator("#menu-toggle").click()  # the rest of the header, behind Menu
            expect(page.locator("#site-menu nav a", has_text="Memory")).to_be_visible()
            expect(page.locator("#menu-toggle")).to_have_attribute("aria-expanded", "true")
            page.keyboard.press("Escape")
            expect(page.locator("#site-menu nav")).to_be_hidden()
            expect(page.locator("#menu-toggle")).to_be_focused()

    await in_browser(run)


async def test_targets_are_finger_sized(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="targets", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content="```\ncode\n```", auth_token=alice)
    await running.mcp().call("set_memory", key="k", value="v", expires_in=600, auth_token=alice)

    def run() -> None:
        with browser_page(running, viewport=PHONE) as (page, _):
            page.goto("/ui/login")
            assert small_targets(page) == []
            assert box(page, "#sign-in")["height"] >= 44
            sign_in(page, running.secrets["admin_key"], "ops")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            assert small_targets(page) == []
            for checkbox in page.locator("#filters input[type=checkbox]").all():
                b = checkbox.bounding_box()
                assert b is not None and b["width"] >= 24 and b["height"] >= 24, b  # was 13 x 13
            assert box(page, "#visibility")["height"] >= 44  # was 19 px
            for primary in ("#post", "#menu-toggle"):
                assert box(page, primary)["height"] >= 44, primary
                assert box(page, primary)["width"] >= 44, primary
            for path in ("/ui/", "/ui/memory?agent_id=alice", "/ui/audit", "/ui/clients"):
                page.goto(path)
                assert small_targets(page) == [], path
            page.locator("#menu-toggle").click()
            assert small_targets(page) == []

    await in_browser(run)


async def test_reconnects_at_once_when_online_visible_or_asked(running: Running) -> None:
    """With the page's clock stopped, no backoff timer can fire: each reconnection below is
    the immediate one of `online`, `visibilitychange` or "Retry now"."""
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="wake up", auth_token=alice))["session_id"]

    def run() -> None:
        with browser_page(running, viewport=PHONE) as (page, _):
            sockets: list[WebSocketRoute] = []

            def through(ws: WebSocketRoute) -> None:
                sockets.append(ws)
                ws.connect_to_server()

            page.route_web_socket("**/ws*", through)
            page.clock.install()
            sign_in(page, running.secrets["api_key"], "viewer")
            page.goto(f"/ui/sessions/{sid}")
            status = page.locator("#live-status")
            expect(status).to_have_text(LIVE)
            page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 0.05)
            wake_ups = [
                "window.dispatchEvent(new Event('online'))",
                "Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});"  # noqa: E501
                " document.dispatchEvent(new Event('visibilitychange'))",
                None,  # "Retry now", by keyboard
            ]
            for n, wake in enumerate(wake_ups):
                before = len(sockets)
                sockets[-1].close(
                    code=1006 if n else 1001
                )  # the connection drops (a phone asleep, a Wi-Fi hop)
                expect(status).to_have_text("Reconnecting…")
                retry = page.locator("#retry-now")
                expect(retry).to_be_visible()
                assert box(page, "#retry-now")["height"] >= 44  # a primary action on a phone
                if wake is None:
                    retry.focus()
                    page.keyboard.press("Enter")
                else:
                    page.evaluate(wake)
                expect(status).to_have_text(LIVE)
                assert len(sockets) == before + 1  # one new socket, at once
            mcp(running, "add_message", session_id=sid, content="still live", auth_token=alice)
            page.clock.run_for(100)  # a frame to show it
            expect(page.locator("#messages .content", has_text="still live")).to_have_count(1)

    await in_browser(run)
