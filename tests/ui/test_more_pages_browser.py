"""The memory, audit and client set-up pages in a real headless Chromium: the TTL countdown,
XSS payloads shown as text, copy buttons, keyboard use and a phone-sized screen.

Skips without /usr/bin/chromium unless SCSD_REQUIRE_BROWSER=1 (the `_chromium` fixture).
The screenshots in docs/screenshots/ come from tests/ui/test_a11y_browser.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.kit.browser import browser_page, in_browser, require_chromium, sign_in
from tests.kit.daemon import Running


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


PHONE = {"width": 375, "height": 740}
WAIT_MS = 15_000
PAYLOAD = "<img src=x onerror=alert(1)><script>alert(2)</script>"


async def remember(running: Running, token: str, key: str, value: Any, **extra: Any) -> None:
    reply = await running.mcp().call("set_memory", key=key, value=value, auth_token=token, **extra)
    assert reply["success"], reply


def keep(tmp_path: Path, *names: str) -> None:
    """The pictures were taken (the ones in docs/screenshots/ come from test_ui_a11y_browser)."""
    for name in names:
        assert (tmp_path / name).stat().st_size > 0


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when nothing scrolls sideways)."""
    width: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return width


def ttl(page: Page, key: str) -> Any:
    return page.locator("tr.memory-row", has=page.locator(".memory-key", has_text=key)).locator("time.ttl")


async def test_ttl_countdown_ticks_down_then_says_expired(running: Running, tmp_path: Path) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="ttl", auth_token=alice))["session_id"]
    await remember(running, alice, "build.status", {"state": "green", "run": 42}, expires_in=600)
    await remember(running, alice, "lock.deploy", "held by alice", expires_in=4)
    await remember(running, alice, "plan", ["write tests", "ship"], session_id=sid)
    await remember(running, alice, "team.notes", "Reviewers: bob, carol")

    def run() -> None:
        with browser_page(running) as (page, _):
            page.set_viewport_size({"width": 1100, "height": 600})
            sign_in(page, running.secrets["api_key"], "alice")
            page.click("nav >> text=Memory")
            expect(page).to_have_url(re.compile(r"/ui/memory$"))
            long_one = ttl(page, "build.status")
            expect(long_one).to_have_text(re.compile(r"^expires in (10m 0s|9m \d\ds)$"))
            first = long_one.text_content() or ""
            expect(long_one).not_to_have_text(first)  # a second later it says one second less
            expect(long_one).to_have_text(re.compile(r"^expires in 9m \d\ds$"))
            short_one = ttl(page, "lock.deploy")
            expect(short_one).to_have_text("expired", timeout=WAIT_MS)  # no reload: the script counted
            expect(short_one).to_have_class(re.compile(r"\bexpired\b"))
            page.locator("tr.memory-row", has_text="build.status").locator("summary").click()
            expect(
                page.locator("tr.memory-row", has_text="build.status").locator("pre.value")
            ).to_contain_text('"state": "green"')
            page.screenshot(path=str(tmp_path / "memory.png"), animations="disabled")

    await in_browser(run)
    keep(tmp_path, "memory.png")


async def test_xss_payloads_in_memory_and_audit_render_as_text(running: Running) -> None:
    evil = await running.token("<script>alert('id')</script>")
    await running.token("typed", "<img src=x onerror=alert(3)>")  # the type lands in audit metadata
    key = "<img/src=x/onerror=alert(4)>"
    await remember(running, evil, key, {"note": PAYLOAD})

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["admin_key"], "ops")
            page.goto("/ui/memory")
            page.select_option("#f-agent", "<script>alert('id')</script>")
            page.click("#f-apply")
            expect(page.locator("#memory-owner")).to_have_text("<script>alert('id')</script>")
            expect(page.locator(".memory-key")).to_have_text(key)
            page.locator("tr.memory-row summary").click()
            expect(page.locator("tr.memory-row pre.value")).to_contain_text(PAYLOAD)
            page.click(".memory-key")
            expect(page.locator("#entry-key")).to_have_text(key)
            expect(page.locator("#entry-value")).to_contain_text(PAYLOAD)
            assert page.locator("main img, main script").count() == 0
            page.goto("/ui/audit")
            expect(page.locator("#audit .agent").first).to_be_visible()
            expect(page.locator("#audit .audit-meta", has_text="onerror=alert(3)")).to_have_count(1)
            expect(
                page.locator("#audit .agent", has_text="<script>alert('id')</script>").first
            ).to_be_visible()
            expect(page.locator("#audit td", has_text=key).first).to_be_visible()
            assert page.locator("main img, main script").count() == 0
            # dialogs: browser_page asserts afterwards that none opened

    await in_browser(run)


async def test_copy_buttons_copy_or_select_and_mint_works_by_keyboard(
    running: Running, tmp_path: Path
) -> None:
    def run() -> None:
        with browser_page(running) as (page, _):
            page.context.grant_permissions(["clipboard-read", "clipboard-write"])
            page.set_viewport_size({"width": 1100, "height": 800})
            sign_in(page, running.secrets["api_key"], "cfg", "claude")
            page.click("nav >> text=Clients")
            expect(page.locator("#cfg-generic-1")).to_contain_text("Bearer YOUR_TOKEN")
            page.screenshot(path=str(tmp_path / "clients.png"), animations="disabled")  # no secret in it
            page.focus("#mint")
            page.keyboard.press("Enter")
            expect(page.locator("#token-info")).to_contain_text("A token for cfg")
            block = page.locator("#cfg-generic-1")
            expect(block).to_contain_text("Bearer ey")
            page.locator("#client-generic button.copy").click()
            expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
            assert page.evaluate("navigator.clipboard.readText()") == block.text_content()
        with browser_page(running) as (page, _):  # no clipboard API: the text gets selected
            page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
            sign_in(page, running.secrets["api_key"], "cfg", "claude")
            page.goto("/ui/clients")
            page.locator("#client-cursor button.copy").focus()
            page.keyboard.press("Enter")
            expect(page.locator("#copy-status")).to_contain_text("Selected")
            selected = page.evaluate("window.getSelection().toString()")
            assert selected == page.locator("#cfg-cursor-1").text_content()

    await in_browser(run)
    keep(tmp_path, "clients.png")


async def test_audit_filters_and_paging_by_keyboard(running: Running, tmp_path: Path) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="audited", auth_token=alice))["session_id"]
    writes = [("set_memory", {"key": f"k{i}", "value": i, "session_id": sid, "auth_token": alice})
              for i in range(55)]  # fmt: skip
    assert all(r["success"] for r in await running.mcp().calls(writes))
    await running.mcp().call("add_message", session_id=sid, content="hello", auth_token=alice)

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "alice")
            expect(page.locator("nav a[href='/ui/audit']")).to_have_count(0)
            page.goto("/ui/audit")
            expect(page.locator("#refused-message")).to_contain_text("The audit log is for admins")
            page.set_viewport_size({"width": 1100, "height": 700})
            sign_in(page, running.secrets["admin_key"], "ops")
            page.goto("/ui/audit")
            page.focus("#a-agent")
            page.keyboard.type("alice")
            page.keyboard.press("Enter")  # submits the filter form
            expect(page).to_have_url(re.compile(r"agent_id=alice"))
            expect(page.locator("#audit .agent")).to_have_count(50)
            # Newest first: alice's own sign-in above, then her message, her 55 memory writes...
            expect(page.locator("#audit .event").nth(0)).to_have_text("ui_login")
            expect(page.locator("#audit .event").nth(1)).to_have_text("message_added")
            page.screenshot(path=str(tmp_path / "audit.png"), animations="disabled")
            page.locator("#older").focus()
            page.keyboard.press("Enter")
            expect(page.locator("#audit .event").last).to_have_text("jwt_token_generated")
            expect(page.locator("#newer")).to_be_visible()
            expect(page.locator("#older")).to_have_count(0)

    await in_browser(run)
    keep(tmp_path, "audit.png")


async def test_phone_screen_has_no_horizontal_scroll(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="phone", auth_token=alice))["session_id"]
    long_key = "k" * 255
    await remember(running, alice, long_key, {"text": "x" * 3000, "list": list(range(200))}, expires_in=900)
    await remember(running, alice, "short", "y" * 1500, session_id=sid)

    def run() -> None:
        with browser_page(running) as (page, _):
            page.set_viewport_size(PHONE)
            sign_in(page, running.secrets["admin_key"], "a-rather-long-admin-agent-identifier")
            pages = ["/ui/memory?agent_id=alice", f"/ui/memory/entry?agent_id=alice&key={long_key}",
                     "/ui/audit", "/ui/clients"]  # fmt: skip
            for path in pages:
                page.goto(path)
                for summary in page.locator("summary").all():
                    summary.click()
                assert horizontal_overflow(page) == 0, path
            page.click("#mint")
            expect(page.locator("#cfg-generic-1")).to_contain_text("Bearer ey")
            assert horizontal_overflow(page) == 0, "clients page with a token"
            # The configs scroll inside their own box rather than widening the page.
            box = page.locator("#cfg-claude-code-1").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    await in_browser(run)
