"""The live dashboard and session page in a real headless Chromium: sessions and activity
appearing without reload, copy buttons, safe Markdown, visibility filters, the "N new" pill,
phone-sized screens and the keyboard. Helpers: browserkit.

The screenshots in docs/screenshots/ come from test_ui_a11y_browser.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.kit.browser import (
    LIVE,
    PHONE,
    browser_page,
    in_browser,
    mcp,
    messages,
    no_horizontal_scroll,
    require_chromium,
    sign_in,
    tab_until,
)
from tests.kit.daemon import Running

ISO: re.Pattern[str] = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
MARKDOWN = (
    "## Plan\n\n**bold** and *italic* and `code`\n\n- one\n- two\n  - nested\n\n"
    "> quoted\n\nSee [the docs](https://example.com/docs) or <mailto:ops@example.com>.\n\n"
    "```\n<b>not bold</b>\n```"
)
XSS = (
    "[x](javascript:alert(1)) [y](JaVaScRiPt:alert(2)) [z](data:text/html,<script>alert(3)</script>) "
    "<img src=x onerror=alert(4)> <script>alert(5)</script> <a href=javascript:alert(6)>a</a>"
)


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


def row(page: Page, sid: str) -> str:
    return f"#sessions tr[data-session-id='{sid}']"


def ids_on_page(page: Page) -> list[int]:
    ids: list[int] = page.eval_on_selector_all("#messages > li", "els => els.map(e => Number(e.dataset.id))")
    return ids


async def test_dashboard_shows_new_sessions_and_activity_live(running: Running) -> None:
    alice = await running.token("alice")
    old = (await running.mcp().call("create_session", purpose="Old session", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=old, content="first", auth_token=alice)
    bob, carol = await running.token("bob"), await running.token("carol")
    dave = await running.token("dave", "gemini")

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            expect(page.locator(row(page, old) + " .count")).to_have_text("1")
            expect(page.locator(row(page, old) + " .participants")).to_have_text("alice")
            time = page.locator(row(page, old) + " time")
            expect(time).to_have_attribute("datetime", ISO)
            expect(time).to_have_text("just now")
            page.evaluate("window.__noReload = true")

            sid = mcp(running, "create_session", purpose="Brand new", auth_token=bob)["session_id"]
            expect(page.locator(row(page, sid) + " .purpose")).to_have_text("Brand new")
            expect(page.locator(row(page, sid) + " .count")).to_have_text("0")
            expect(page.locator("#sessions tbody tr").first).to_have_attribute("data-session-id", sid)

            mcp(running, "add_message", session_id=sid, content="hello", auth_token=bob)
            expect(page.locator(row(page, sid) + " .count")).to_have_text("1")
            expect(page.locator(row(page, sid) + " .participants")).to_have_text("bob")

            # Activity moves a session to the top; counts only what the viewer may see.
            mcp(
                running,
                "add_message",
                session_id=old,
                content="secret",
                visibility="private",
                auth_token=dave,
            )
            mcp(running, "add_message", session_id=old, content="again", auth_token=carol)
            expect(page.locator(row(page, old) + " .count")).to_have_text("2")
            expect(page.locator(row(page, old) + " .participants")).to_have_text("carol, alice")
            expect(page.locator("#sessions tbody tr").first).to_have_attribute("data-session-id", old)
            expect(page.locator("#sessions tbody tr")).to_have_count(2)
            assert page.evaluate("window.__noReload") is True
            page.click(f"{row(page, sid)} a")
            expect(page.locator("#purpose")).to_have_text("Brand new")

    await in_browser(run)


async def test_copy_button_copies_or_selects_the_session_id(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="copy me", auth_token=alice))["session_id"]

    def run() -> None:
        with browser_page(running, permissions=["clipboard-read", "clipboard-write"]) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            page.click(f"{row(page, sid)} button.copy")
            expect(page.locator(f"{row(page, sid)} button.copy")).to_have_text("Copied")
            assert page.evaluate("navigator.clipboard.readText()") == sid
            expect(page.locator("#copy-status")).to_have_text(f"Copied {sid}")
        with browser_page(running) as (page, _):
            page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
            sign_in(page, running.secrets["api_key"], "viewer")
            page.click(f"{row(page, sid)} button.copy")
            expect(page.locator("#copy-status")).to_contain_text(sid)
            assert page.evaluate("window.getSelection().toString()") == sid

    await in_browser(run)


async def test_markdown_renders_safely_the_same_initially_and_live(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="markdown", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content=MARKDOWN, auth_token=alice)
    await running.mcp().call("add_message", session_id=sid, content=XSS, auth_token=alice)

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            mcp(running, "add_message", session_id=sid, content=MARKDOWN, auth_token=alice)
            mcp(running, "add_message", session_id=sid, content=XSS, auth_token=alice)
            expect(page.locator("#messages > li")).to_have_count(4)
            first, _, live, _ = page.locator("#messages .content").all()
            for content in (first, live):
                expect(content.locator("h3")).to_have_text("Plan")  # the message's top heading
                expect(content.locator("strong")).to_have_text("bold")
                expect(content.locator("em")).to_have_text("italic")
                expect(content.locator("p code")).to_have_text("code")
                expect(content.locator(":scope > ul > li")).to_have_count(2)
                expect(content.locator("ul ul > li")).to_have_text("nested")
                expect(content.locator("blockquote")).to_have_text("quoted")
                docs = content.locator("a", has_text="the docs")
                expect(docs).to_have_attribute("href", "https://example.com/docs")
                expect(docs).to_have_attribute("rel", "noopener noreferrer nofollow")
                expect(content.locator("a[href='mailto:ops@example.com']")).to_have_count(1)
                expect(content.locator("pre code")).to_have_text("<b>not bold</b>")
            assert first.inner_html() == live.inner_html()  # server-rendered = live-rendered
            for evil in page.locator("#messages .content").all()[1::2]:
                expect(evil).to_have_text(XSS.replace("\n", ""))
                expect(evil.locator("a")).to_have_count(0)
            assert page.locator("#messages b, #messages img, #messages script, #messages iframe").count() == 0
            page.locator("text=[x](javascript:alert(1))").first.click()  # plain text: nothing happens
            hrefs = page.eval_on_selector_all("#messages a", "els => els.map(a => a.protocol)")
            assert set(hrefs) <= {"http:", "https:", "mailto:"}, hrefs

            # Without JavaScript the same page is readable: the raw text, escaped.
            plain = page.context.browser.new_context(  # type: ignore[union-attr]
                base_url=running.endpoints.http_url, java_script_enabled=False
            )
            plain.add_cookies(page.context.cookies())
            no_js = plain.new_page()
            no_js.goto(f"/ui/sessions/{sid}")
            expect(no_js.locator("#messages .content").first).to_have_text(MARKDOWN)
            expect(no_js.locator("#messages .content").nth(1)).to_have_text(XSS)
            assert no_js.locator("#messages strong, #messages img, #messages script").count() == 0
            plain.close()

    await in_browser(run)


async def test_visibility_filters_apply_to_shown_and_live_messages(running: Running) -> None:
    alice = await running.token("alice")
    root = await running.token("root", admin=True)
    sid = (await running.mcp().call("create_session", purpose="filters", auth_token=alice))["session_id"]
    for content, visibility, token in [
        ("pub one", "public", alice),
        ("priv one", "private", alice),
        ("agents one", "agent_only", alice),
        ("admins one", "admin_only", root),
    ]:
        await running.mcp().call("add_message", session_id=sid, content=content, visibility=visibility,
                                 auth_token=token)  # fmt: skip

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["admin_key"], "")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            boxes = page.locator("#filters input[type=checkbox]")
            expect(boxes).to_have_count(4)
            page.uncheck("#filters input[value=private]")
            page.uncheck("#filters input[value=admin_only]")
            expect(messages(page, "priv one")).to_be_hidden()
            expect(messages(page, "admins one")).to_be_hidden()
            expect(messages(page, "pub one")).to_be_visible()
            expect(messages(page, "agents one")).to_be_visible()
            mcp(
                running,
                "add_message",
                session_id=sid,
                content="priv two",
                visibility="private",
                auth_token=alice,
            )
            mcp(running, "add_message", session_id=sid, content="pub two", auth_token=alice)
            expect(messages(page, "pub two")).to_be_visible()
            expect(messages(page, "priv two")).to_have_count(1)
            expect(messages(page, "priv two")).to_be_hidden()
            page.check("#filters input[value=private]")
            expect(messages(page, "priv one")).to_be_visible()
            expect(messages(page, "priv two")).to_be_visible()
            expect(messages(page, "admins one")).to_be_hidden()

    await in_browser(run)


async def test_new_messages_pill_when_scrolled_up_and_follow_at_the_bottom(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="long", auth_token=alice))["session_id"]
    calls = [("add_message", {"session_id": sid, "content": f"old {n}\n\nline\n\nline", "auth_token": alice})
             for n in range(30)]  # fmt: skip
    await running.mcp().calls(calls)

    def run() -> None:
        with browser_page(running, viewport={"width": 900, "height": 600}) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            pill = page.locator("#new-pill")
            expect(pill).to_be_hidden()
            assert page.evaluate("window.scrollY") == 0  # at the top: reading, not following
            mcp(running, "add_message", session_id=sid, content="new one", auth_token=alice)
            expect(pill).to_have_text("1 new message ↓")
            mcp(running, "add_message", session_id=sid, content="new two", auth_token=alice)
            expect(pill).to_have_text("2 new messages ↓")
            expect(messages(page, "new two")).not_to_be_in_viewport()
            assert page.evaluate("window.scrollY") == 0  # the page did not jump
            pill.click()
            expect(pill).to_be_hidden()
            expect(messages(page, "new two")).to_be_in_viewport()

            # At the bottom: new messages are followed, no pill.
            mcp(running, "add_message", session_id=sid, content="new three", auth_token=alice)
            expect(messages(page, "new three")).to_be_in_viewport()
            expect(pill).to_be_hidden()
            ids = ids_on_page(page)
            assert len(ids) == 33 and ids == sorted(set(ids))  # each once, in order

            # The keyboard reaches the pill, and Enter on it jumps to the newest message.
            page.evaluate("window.scrollTo(0, 0)")
            mcp(running, "add_message", session_id=sid, content="new four", auth_token=alice)
            expect(pill).to_be_visible()
            page.locator("#filters input").last.focus()  # the pill comes next, before the messages
            assert tab_until(page, "#new-pill") == 1
            page.keyboard.press("Enter")
            expect(pill).to_be_hidden()
            expect(messages(page, "new four")).to_be_in_viewport()
            expect(page.locator("#messages > li").last).to_be_focused()

    await in_browser(run)


async def test_keyboard_reaches_post_form_and_copy_button(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="keys", auth_token=alice))["session_id"]
    parent = await running.mcp().call("add_message", session_id=sid, content="parent", auth_token=alice)
    pid = parent["message_id"]
    reply = await running.mcp().call("add_message", session_id=sid, content="child", auth_token=alice,
                                     parent_message_id=pid)  # fmt: skip
    assert reply["success"], reply

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "human", "developer")
            tab_until(page, f"{row(page, sid)} button.copy")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            tab_until(page, ".reply-to")
            page.keyboard.press("Enter")
            expect(page).to_have_url(re.compile(rf"#m-{pid}$"))
            tab_until(page, "#content")
            page.keyboard.type("typed **here**")
            tab_until(page, "#post")
            page.keyboard.press("Enter")
            expect(page.locator("#messages > li").last.locator("strong")).to_have_text("here")
            expect(page.locator("#messages > li").last).to_be_in_viewport()

    await in_browser(run)


async def test_phone_sized_screen_has_no_horizontal_scroll(running: Running, tmp_path: Path) -> None:
    alice = await running.token("a" * 60)
    long = "x" * 300
    sid = (await running.mcp().call("create_session", purpose="A phone check " + long, auth_token=alice))[
        "session_id"
    ]
    content = f"{long}\n\nhttps://example.com/{long}\n\n```\n{long}\n```\n\n- `{long}`\n\n> {long}"
    await running.mcp().call("add_message", session_id=sid, content=content, auth_token=alice)

    def run() -> None:
        with browser_page(running, viewport=PHONE) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer-with-a-long-name")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            no_horizontal_scroll(page)
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            no_horizontal_scroll(page)
            mcp(running, "add_message", session_id=sid, content="live " + long, auth_token=alice)
            expect(messages(page, "live x")).to_have_count(1)
            no_horizontal_scroll(page)

    await in_browser(run)


async def test_screenshots_of_dashboard_and_session(running: Running, tmp_path: Path) -> None:
    """The dashboard and session page with typing, watchers and the pill, as pictures (the ones
    in docs/screenshots/ come from test_ui_a11y_browser.py)."""
    alice, bob = await running.token("alice"), await running.token("bob", "gemini")
    mcp_ = running.mcp()
    sid = (await mcp_.call("create_session", purpose="Release 2.4 checklist", auth_token=alice))["session_id"]
    other = (await mcp_.call("create_session", purpose="Flaky test triage", auth_token=bob))["session_id"]
    await mcp_.call("add_message", session_id=other, content="`test_sync` fails 1 in 50.", auth_token=bob)
    posts = [
        (alice, "## Release 2.4\n\n- [x] **changelog** written\n- [ ] tag `v2.4.0`\n\nCI: "
                "https://ci.example.com/runs/812", "public", None),
        (bob, "Build is green. Shall I tag it?", "public", 0),
        (alice, "> Shall I tag it?\n\nYes, after the *smoke test*:\n\n```\nscsd status --json\n```",
         "agent_only", 1),
        (alice, "Note to self: rotate the staging key.", "private", None),
    ]  # fmt: skip
    ids: list[int] = []
    for token, content, visibility, parent in posts:
        args = {"parent_message_id": ids[parent]} if parent is not None else {}
        reply = await mcp_.call("add_message", session_id=sid, content=content, visibility=visibility,
                                auth_token=token, **args)  # fmt: skip
        ids.append(reply["message_id"])

    def run() -> None:
        with browser_page(running, viewport={"width": 1100, "height": 760}) as (page, _):
            sign_in(page, running.secrets["api_key"], "alice", "claude")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            page.screenshot(path=str(tmp_path / "dashboard.png"), animations="disabled")
            page.set_viewport_size({"width": 1100, "height": 600})
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            mcp(running, "add_message", session_id=sid, content="Tagged **v2.4.0**.", auth_token=bob)
            expect(page.locator("#new-pill")).to_be_visible()
            expect(page.locator("#watchers")).to_have_text("Watching: alice (claude, you)")
            mcp(running, "set_typing", session_id=sid, auth_token=bob)
            expect(page.locator("#typing")).to_have_text("bob is composing…")
            page.screenshot(path=str(tmp_path / "session.png"), animations="disabled")
            page.set_viewport_size(PHONE)
            page.click("#new-pill")
            page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")  # the post form
            mcp(running, "set_typing", session_id=sid, auth_token=bob)  # still (or again) composing
            expect(page.locator("#typing")).to_have_text("bob is composing…")
            page.screenshot(path=str(tmp_path / "session-phone.png"), animations="disabled")
            page.goto("/ui/")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            page.screenshot(path=str(tmp_path / "dashboard-phone.png"), animations="disabled")

    await in_browser(run)
    names = ("dashboard.png", "session.png", "session-phone.png", "dashboard-phone.png")
    assert all((tmp_path / n).stat().st_size > 0 for n in names)
