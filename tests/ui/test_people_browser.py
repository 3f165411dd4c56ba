"""Who said it and what you write, in a real Chromium (issue 16, items 4 and 7): humans apart
from agents, a stable colour and initial per agent, your own messages marked; the composer
reached by a skip link, Ctrl/Cmd+Enter posting without a reload, the message shown once
(through the live stream), drafts kept; new messages announced to screen readers in batches."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import trio
from playwright.sync_api import Locator, Page, expect

from tests.kit.browser import (
    LIVE,
    WAIT_MS,
    browser_page,
    in_browser,
    mcp,
    messages,
    require_chromium,
    sign_in,
)
from tests.kit.daemon import Running
from tests.kit.uipage import computed, seeded_session, watch


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


def hue(name: str) -> int:
    """messages.js's colour index: FNV-1a over the UTF-16 code units, mod 8."""
    h = 0x811C9DC5
    for unit in name.encode("utf-16-le")[::2]:
        h = ((h ^ unit) * 0x01000193) & 0xFFFFFFFF
    return h % 8


def classes(li: Locator) -> set[str]:
    return set((li.get_attribute("class") or "").split()) - {"fresh"}


def item(page: Page, text: str) -> Locator:
    return page.locator("#messages > li", has=page.locator(".content", has_text=text))


async def test_humans_agents_and_you_look_different(running: Running) -> None:
    names = ["alice", "bob", "carol", "dave", "erin", "frank"]
    a, b = next((x, y) for x in names for y in names if hue(x) != hue(y))
    ta, tb = await running.token(a), await running.token(b, "gemini")
    sid = (await running.mcp().call("create_session", purpose="who", auth_token=ta))["session_id"]
    for token, text in ((ta, "agent one"), (tb, "agent two"), (ta, "agent three")):
        await running.mcp().call("add_message", session_id=sid, content=text, auth_token=token)

    def run() -> None:
        with browser_page(running, reduced_motion="reduce") as (page, _):
            sign_in(page, running.secrets["api_key"], "human", "developer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            page.fill("#content", "a human speaks")
            page.click("#post")
            mine = item(page, "a human speaks")
            expect(mine).to_have_count(1)
            one, two, three = item(page, "agent one"), item(page, "agent two"), item(page, "agent three")
            for li, who in ((one, a), (two, b), (three, a)):
                assert classes(li) == {"message", "vis-public", "from-agent", f"hue-{hue(who)}"}
                expect(li.locator(".avatar")).to_have_text(who[0].upper())
                expect(li.locator(".role")).to_have_text("agent")
                expect(li.locator(".you")).to_be_hidden()
            stripe = "#messages > li:nth-child({}) .bubble"
            colour = [computed(page, stripe.format(n), "border-left-color") for n in (1, 2, 3)]
            assert colour[0] == colour[2] != colour[1]  # one colour per agent, the same every time
            assert classes(mine) == {"message", "vis-public", "from-human", f"hue-{hue('human')}", "mine"}
            expect(mine.locator(".role")).to_have_text("human")
            expect(mine.locator(".you")).to_be_visible()
            expect(mine.locator(".you")).to_have_text("you")
            human_bg = computed(page, "#messages > li.from-human .bubble", "background-color")
            agent_bg = computed(page, "#messages > li.from-agent .bubble", "background-color")
            assert human_bg != agent_bg
            # Another viewer sees the human's message as a human's, but not as theirs.
            other = page.context.browser.new_context(base_url=running.endpoints.http_url)  # type: ignore[union-attr]
            them = other.new_page()
            sign_in(them, running.secrets["api_key"], "someone", "developer")
            them.goto(f"/ui/sessions/{sid}")
            expect(item(them, "a human speaks")).to_have_count(1)
            assert classes(item(them, "a human speaks")) == {
                "message",
                "vis-public",
                "from-human",
                f"hue-{hue('human')}",
            }
            expect(item(them, "a human speaks").locator(".you")).to_be_hidden()
            other.close()

    await in_browser(run)


async def test_skip_link_ctrl_enter_and_no_reload(running: Running) -> None:
    alice, sid = await seeded_session(running, "compose")
    await running.mcp().calls(
        [("add_message", {"session_id": sid, "content": f"m{n}", "auth_token": alice}) for n in range(40)]
    )

    def run() -> None:
        with browser_page(running) as (page, seen):
            watch(page, running, sid, "human", "developer")
            page.evaluate("window.__noReload = true")
            page.keyboard.press("Tab")
            expect(page.locator(":focus")).to_have_text("Skip to the content")
            page.keyboard.press("Tab")
            expect(page.locator(":focus")).to_have_text("Skip to the message box")
            page.keyboard.press("Enter")
            expect(page.locator("#content")).to_be_focused()  # the second Tab stop, not the 40th
            page.keyboard.type("first **post**")
            page.keyboard.press("Control+Enter")
            expect(page.locator("#messages > li").last.locator("strong")).to_have_text("post")
            expect(page.locator("#content")).to_have_value("")
            expect(page.locator("#content")).to_be_focused()
            page.keyboard.type("second, by Cmd+Enter")
            page.keyboard.press("Meta+Enter")
            expect(messages(page, "second, by Cmd+Enter")).to_have_count(1)
            expect(messages(page, "first post")).to_have_count(1)  # each once
            assert page.evaluate("window.__noReload") is True
            posts = [u for u in seen.urls if u.endswith(f"/ui/api/sessions/{sid}/messages")]
            assert len(posts) == 2  # through the JSON endpoint; the page itself never reloaded
            page.keyboard.press("Control+Enter")  # nothing to post
            expect(page.locator("#post-error")).to_have_text("Write something first.")
            ids = page.eval_on_selector_all("#messages > li", "els => els.map(e => Number(e.dataset.id))")
            assert len(ids) == 42 and ids == sorted(set(ids))

    await in_browser(run)


async def test_draft_is_kept_until_posted_and_errors_keep_the_text(running: Running) -> None:
    _, sid = await seeded_session(running, "drafts")

    def run() -> None:
        with browser_page(running) as (page, _):
            watch(page, running, sid, "human", "developer")
            page.locator("#content").press_sequentially("half a thought")
            page.reload()
            expect(page.locator("#content")).to_have_value("half a thought")
            page.route(f"**/ui/api/sessions/{sid}/messages", lambda route: route.abort())
            page.click("#post")
            expect(page.locator("#post-error")).to_contain_text("the server does not answer")
            expect(page.locator("#content")).to_have_value("half a thought")
            page.unroute(f"**/ui/api/sessions/{sid}/messages")
            page.locator("#content").press_sequentially(", finished")
            page.click("#post")
            expect(messages(page, "half a thought, finished")).to_have_count(1)
            expect(page.locator("#post-error")).to_be_hidden()
            page.reload()
            expect(page.locator("#content")).to_have_value("")  # posted: the draft is gone

    await in_browser(run)


async def test_new_messages_are_announced_politely_in_batches(running: Running) -> None:
    alice, bob = await running.token("alice"), await running.token("bob")
    sid = (await running.mcp().call("create_session", purpose="announce", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content="already here", auth_token=alice)
    burst = [("add_message", {"session_id": sid, "content": f"burst {n}", "auth_token": t})
             for n, t in enumerate([alice, bob, alice, bob, alice])]  # fmt: skip

    def run() -> None:
        with browser_page(running) as (page, _):
            frames: list[str] = []
            page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
            page.clock.install()
            watch(page, running, sid)
            announcer = page.locator("#announcer")
            expect(announcer).to_have_attribute("aria-live", "polite")
            expect(page.locator("#messages")).not_to_have_attribute("aria-live", "polite")
            expect(announcer).to_have_text("")  # what was there at load is not news
            heard: list[str] = []
            page.expose_function("heard", lambda text: heard.append(text))
            page.evaluate("""() => { const a = document.getElementById("announcer");
              new MutationObserver(() => window.heard(a.textContent))
                .observe(a, { childList: true, characterData: true, subtree: true }); }""")
            mcp(
                running,
                "add_message",
                session_id=sid,
                content="Deploy   done,\n\nall green",
                auth_token=alice,
            )
            expect(announcer).to_have_text("New message from alice: Deploy done, all green")
            # A burst, all received while the page's clock stands still: one announcement.
            page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 0.05)
            trio.from_thread.run(running.mcp().calls, burst)
            wait_until(page, lambda: sum('"new_message"' in f for f in frames) >= 6)
            page.clock.resume()
            expect(messages(page, "burst 4")).to_have_count(1)
            expect(announcer).to_have_text("5 new messages, from alice and bob")
            assert heard == [
                "New message from alice: Deploy done, all green",
                "5 new messages, from alice and bob",
            ]

    await in_browser(run)


def wait_until(page: Page, done: Callable[[], bool]) -> None:
    """Wait for a condition on what Playwright reported (its events arrive while it waits),
    for at most WAIT_MS."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not done():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)
