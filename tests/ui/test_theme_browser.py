"""Themes in a real Chromium (issue 16, item 1): light and dark follow the system's
`prefers-color-scheme`, a toggle overrides it and persists, and every part (page, messages,
code blocks, badges, header) changes, with text contrast of WCAG AA (4.5:1) in both."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.kit.browser import LIVE, browser_page, in_browser, require_chromium, sign_in
from tests.kit.daemon import Running
from tests.kit.uipage import computed, contrast, luminance

CODE = "```python\n# comment\ndef f(x: int) -> str:\n    return f'{x}' + \"s\" if True else None\n```"
PARTS = {  # what must turn dark: selector -> the property
    "body": "background-color",
    "#messages .bubble": "background-color",
    "#messages .code-block pre": "background-color",
    "#messages .badge": "background-color",
    "header.site": "background-color",
    "#post-form": "background-color",
    "#content": "background-color",
}


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


def colours(page: Page) -> dict[str, float]:
    return {sel: luminance(computed(page, sel, prop)) for sel, prop in PARTS.items()}


def text_contrasts(page: Page) -> list[tuple[str, float]]:
    """(what, contrast) of the message text, the muted head, the code and every token colour."""
    pairs = page.evaluate("""() => {
      const bg = (e) => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;
        if (c !== "rgba(0, 0, 0, 0)") return c; } return "rgb(255, 255, 255)"; };
      const picks = [...document.querySelectorAll(
        "#messages .content p, #messages .message-head .sender-type, #messages .badge, #messages pre code, " +
        "#messages pre code span, header.site a, #live-status, .hint")];
      return picks.map(e => [e.className || e.tagName, getComputedStyle(e).color, bg(e)]);
    }""")
    return [(what, contrast(fg, bg)) for what, fg, bg in pairs]


async def test_dark_follows_the_system_and_the_toggle_persists(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="themes", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content="Look:\n\n" + CODE, visibility="private",
                             auth_token=alice)  # fmt: skip

    def run() -> None:
        with browser_page(running, color_scheme="dark", reduced_motion="reduce") as (page, _):
            sign_in(page, running.secrets["admin_key"], "ops")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            dark = colours(page)
            assert all(v < 0.05 for v in dark.values()), dark  # every part is dark
            assert luminance(computed(page, "body", "color")) > 0.6  # light text on it
            assert luminance(computed(page, "#visibility", "background-color")) < 0.05  # form controls too
            tokens = page.locator("#messages pre code span[class^='hljs-']")
            assert tokens.count() >= 5
            for what, ratio in text_contrasts(page):
                assert ratio >= 4.5, (what, ratio)

            page.emulate_media(color_scheme="light")  # the system changes: the page follows
            light = colours(page)
            assert all(v > 0.6 for sel, v in light.items() if sel != "header.site"), light
            for what, ratio in text_contrasts(page):
                assert ratio >= 4.5, (what, ratio)

            toggle = page.locator("#theme-toggle")
            expect(toggle).to_have_text("Theme: system")
            toggle.focus()
            page.keyboard.press("Enter")
            expect(toggle).to_have_text("Theme: light")
            page.keyboard.press("Enter")
            expect(toggle).to_have_text("Theme: dark")  # dark on a light system
            expect(page.locator("html")).to_have_attribute("data-theme", "dark")
            assert all(v < 0.05 for v in colours(page).values())
            page.goto("/ui/memory")  # kept across pages (and applied before the first paint)
            expect(page.locator("html")).to_have_attribute("data-theme", "dark")
            assert luminance(computed(page, "body", "background-color")) < 0.05
            expect(page.locator("#theme-toggle")).to_have_text("Theme: dark")
            page.locator("#theme-toggle").click()
            expect(page.locator("#theme-toggle")).to_have_text("Theme: system")
            assert page.evaluate("document.documentElement.dataset.theme") is None
            assert luminance(computed(page, "body", "background-color")) > 0.8  # the light system again

    await in_browser(run)
