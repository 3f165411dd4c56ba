"""Every page of the UI, in both themes and at desktop and phone sizes, in a real Chromium:
axe-core (vendored, tests/assets/axe-core) finds no critical or serious violation, and with
SCSD_SCREENSHOTS=1 the pictures in docs/screenshots/ are written (issue 16, item 8)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.kit.browser import (
    LIVE,
    SCREENSHOTS,
    browser_page,
    in_browser,
    mcp,
    require_chromium,
    screenshots_wanted,
    sign_in,
    tab_until,
)
from tests.kit.daemon import Running
from tests.kit.uipage import PHONE, SIZES, THEMES, assert_axe_clean, axe_violations

PAGES = ("dashboard", "session", "memory", "memory-entry", "audit", "clients", "health")


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


async def seed(running: Running) -> str:
    """A session as a supervisor would watch it: agents and a human, code, a table, a reply."""
    alice, bob = await running.token("alice"), await running.token("bob", "gemini")
    m = running.mcp()
    sid = (await m.call("create_session", purpose="Release 2.4 checklist", auth_token=alice))["session_id"]
    other = (await m.call("create_session", purpose="Flaky test triage", auth_token=bob))["session_id"]
    await m.call("add_message", session_id=other, content="`test_sync` fails 1 in 50.", auth_token=bob)
    first = await m.call(
        "add_message", session_id=sid, auth_token=alice,
        content="## Release 2.4\n\n- [x] **changelog** written\n- [ ] tag `v2.4.0`\n\n"
        "| step | owner | done |\n|---|---|:-:|\n| build | bob | yes |\n| smoke test | alice | no |\n\nCI: https://ci.example.com/runs/812",
    )  # fmt: skip
    await m.call(
        "add_message", session_id=sid, auth_token=bob, parent_message_id=first["message_id"],
        content="Build is green. Shall I tag it?\n\n```python\ndef tag(version: str) -> None:\n"
        '    """Push the release tag."""\n    run(["git", "tag", version], check=True)  # signed\n```',
    )  # fmt: skip
    await m.call("add_message", session_id=sid, auth_token=alice, visibility="private",
                 content="Note to self: rotate the staging key.", metadata={"reminder": True})  # fmt: skip
    await m.call("add_message", session_id=sid, auth_token=bob,
                 content="\n".join(f"{n:03} ok test_{n}" for n in range(60)))  # fmt: skip
    await m.call("set_memory", key="build.status", value={"state": "green", "run": 812}, expires_in=3600,
                 auth_token=alice)  # fmt: skip
    await m.call("set_memory", key="plan", value=["tag", "announce"], session_id=sid, auth_token=alice)
    return str(sid)


def visit(page: Page, name: str, sid: str) -> None:
    paths = {"dashboard": "/ui/", "session": f"/ui/sessions/{sid}", "memory": "/ui/memory?agent_id=alice",
             "memory-entry": "/ui/memory/entry?agent_id=alice&key=build.status", "audit": "/ui/audit",
             "clients": "/ui/clients", "health": "/ui/health"}  # fmt: skip
    page.goto(paths[name])
    page.wait_for_load_state()
    if name in ("dashboard", "session"):
        expect(page.locator("#live-status")).to_have_text(LIVE)


async def test_every_page_passes_axe_in_both_themes_and_sizes(running: Running, tmp_path: Path) -> None:
    sid = await seed(running)
    shots: list[str] = []

    def run() -> None:
        for size, viewport in SIZES.items():
            for theme in THEMES:
                options = {"viewport": viewport, "color_scheme": theme, "bypass_csp": True,
                           "reduced_motion": "reduce"}  # fmt: skip
                with browser_page(running, **options) as (page, _):
                    page.goto("/ui/login")
                    assert_axe_clean(page, f"login, {size}, {theme}")
                    shot(page, f"login-{size}-{theme}")
                    sign_in(page, running.secrets["admin_key"], "ops")
                    for name in PAGES:
                        visit(page, name, sid)
                        if name == "session":  # someone composing, for the picture
                            mcp(running, "set_typing", session_id=sid, auth_token=composer)
                        assert_axe_clean(page, f"{name}, {size}, {theme}")
                        shot(page, f"{name}-{size}-{theme}")
                    if size == "phone":  # the menu, opened
                        page.goto("/ui/")
                        page.locator("#menu-toggle").click()
                        expect(page.locator("#site-menu nav")).to_be_visible()
                        assert_axe_clean(page, f"menu, {size}, {theme}")

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(tmp_path / f"{name}.png"), animations="disabled")
        shots.append(name)

    composer = await running.token("bob", "gemini")
    await in_browser(run, seconds=600)
    assert len(shots) == len(SIZES) * len(THEMES) * (len(PAGES) + 1)
    if screenshots_wanted():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in shots:
            shutil.copy(tmp_path / f"{name}.png", SCREENSHOTS / f"{name}.png")


async def test_the_axe_check_can_fail(running: Running) -> None:
    """The same check on a page given a faint text and two tiny buttons reports both as
    serious: a clean run above means something."""

    def run() -> None:
        with browser_page(running, bypass_csp=True) as (page, _):
            page.goto("/ui/login")
            page.evaluate("""() => {
              const main = document.querySelector("main");
              const faint = document.createElement("p");
              faint.textContent = "faint words";
              faint.setAttribute("style", "color: #777; background: #888");
              main.append(faint);
              for (const n of [1, 2]) {
                const b = document.createElement("button");
                b.textContent = "x" + n;
                b.setAttribute("style", "all: unset; display: inline-block; width: 8px; height: 8px");
                main.append(b);
              }
            }""")
            found = {v["id"] for v in axe_violations(page)}
            assert {"color-contrast", "target-size"} <= found, found

    await in_browser(run)


async def test_every_session_action_by_keyboard(running: Running) -> None:
    """Filters, "Show more", a message's details, a code block's Copy, the theme, the phone's
    menu: each reached with Tab and worked with Enter or Space, no mouse."""
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="keys", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content="\n\n".join(f"p{n}" for n in range(40)),
                             auth_token=alice)  # fmt: skip
    await running.mcp().call("add_message", session_id=sid, content="```sh\nls\n```", auth_token=alice)

    def run() -> None:
        with browser_page(running, permissions=["clipboard-read", "clipboard-write"]) as (page, _):
            sign_in(page, running.secrets["api_key"], "human", "developer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            tab_until(page, "#filters input[value=public]")
            page.keyboard.press("Space")
            expect(page.locator("#messages > li").first).to_be_hidden()
            page.keyboard.press("Space")
            expect(page.locator("#messages > li").first).to_be_visible()
            tab_until(page, "#messages > li:first-child button.more")
            page.keyboard.press("Enter")
            expect(page.locator("#messages > li:first-child button.more")).to_have_attribute(
                "aria-expanded", "true"
            )
            tab_until(page, "#messages > li:first-child summary")
            page.keyboard.press("Enter")
            expect(page.locator("#messages > li:first-child .message-details")).to_have_attribute("open", "")
            tab_until(page, "button.copy-code")
            page.keyboard.press("Enter")
            assert page.evaluate("navigator.clipboard.readText()") == "ls"
            tab_until(page, "#content")
            page.keyboard.type("by keyboard only")
            page.keyboard.press("Control+Enter")
            expect(page.locator("#messages .content", has_text="by keyboard only")).to_have_count(1)
            page.keyboard.press("Shift+Tab")  # back to where it was: nothing moved the focus
            page.set_viewport_size(PHONE)
            page.evaluate("window.scrollTo(0, 0)")
            page.locator("#menu-toggle").focus()
            page.keyboard.press("Enter")
            tab_until(page, "#theme-toggle")
            page.keyboard.press("Enter")
            expect(page.locator("#theme-toggle")).to_have_text("Theme: light")

    await in_browser(run)
