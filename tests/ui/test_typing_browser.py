"""Typing indicators, who is watching, and the dashboard over SSE, in a real headless Chromium
against a real daemon (issues #5 and #9). Helpers: browserkit."""

from __future__ import annotations

from typing import Final

import pytest
import trio
from playwright.sync_api import Page, expect
from trio_websocket import WebSocketConnection, open_websocket_url

from tests.kit.browser import (
    LIVE,
    WAIT_MS,
    browser_page,
    in_browser,
    mcp,
    messages,
    refuse_websocket,
    require_chromium,
    sign_in,
)
from tests.kit.clients import JsonObject, next_event
from tests.kit.daemon import Running

LAPSE_MS: Final = 15_000  # a start lapses 6 s after it was sent; room for a busy machine


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


class Agent:
    """An agent watching a session over its own WebSocket, run in the test's nursery and
    steered from the browser thread; it records the typing events it receives."""

    def __init__(self, running: Running, sid: str, token: str) -> None:
        self._url = f"{running.endpoints.ws_url}/ws/{sid}?token={token}"
        self.typing: list[JsonObject] = []
        self._news = trio.Event()
        self._leave = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with open_websocket_url(self._url) as ws:
            await next_event(ws, "subscribed")
            task_status.started()
            async with trio.open_nursery() as reading:
                reading.start_soon(self._read, ws)
                await self._leave.wait()
                reading.cancel_scope.cancel()

    async def _read(self, ws: WebSocketConnection) -> None:
        while True:
            event = await next_event(ws, "typing")
            self.typing.append(event["data"])
            self._news.set()
            self._news = trio.Event()

    async def wait_typing(self, agent_id: str, typing: bool) -> None:
        with trio.fail_after(WAIT_MS / 1000):
            while not any(e["agent_id"] == agent_id and e["typing"] is typing for e in self.typing):
                await self._news.wait()

    def join(self, nursery: trio.Nursery) -> None:
        """From the browser thread: connect and subscribe (returns once subscribed)."""
        trio.from_thread.run(nursery.start, self.run)

    def leave(self) -> None:
        trio.from_thread.run_sync(self._leave.set)


def freeze_clock(page: Page) -> None:
    """Stop the page's clock (installed before it loaded): from now on an indicator cannot
    lapse by itself, so one that goes away was ended by a stop or a message."""
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 0.05)


async def test_agent_typing_shows_and_ends_on_a_stop_or_a_message(running: Running) -> None:
    alice, bob = await running.token("alice"), await running.token("bob", "gemini")
    carol = await running.token("carol")
    sid = (await running.mcp().call("create_session", purpose="typing", auth_token=alice))["session_id"]

    def run() -> None:
        with browser_page(running) as (page, _):
            page.clock.install()
            sign_in(page, running.secrets["api_key"], "viewer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            typing = page.locator("#typing")
            expect(typing).to_have_attribute("aria-live", "polite")
            expect(typing).to_have_text("")
            freeze_clock(page)
            mcp(running, "set_typing", session_id=sid, auth_token=alice)
            expect(typing).to_have_text("alice is composing…")
            mcp(running, "set_typing", session_id=sid, auth_token=bob)
            expect(typing).to_have_text("alice and bob are composing…")
            mcp(running, "set_typing", session_id=sid, auth_token=carol)
            expect(typing).to_have_text("3 people are composing…")
            mcp(running, "set_typing", session_id=sid, typing=False, auth_token=bob)
            expect(typing).to_have_text("alice and carol are composing…")
            mcp(running, "add_message", session_id=sid, content="posted", auth_token=alice)
            expect(typing).to_have_text("carol is composing…")
            page.clock.run_for(100)  # a frame for the message (far from carol's expiry)
            expect(messages(page, "posted")).to_have_count(1)
            expect(typing).to_have_text("carol is composing…")

    await in_browser(run)


async def test_agent_typing_lapses_by_itself(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="lapse", auth_token=alice))["session_id"]

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            mcp(running, "set_typing", session_id=sid, auth_token=alice)
            typing = page.locator("#typing")
            expect(typing).to_have_text("alice is composing…")
            expect(typing).to_have_text("", timeout=LAPSE_MS)  # 6 s after the start, nothing else sent

    await in_browser(run)


async def test_watchers_list_shows_agents_joining_and_leaving(
    running: Running, nursery: trio.Nursery
) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="watched", auth_token=alice))["session_id"]
    bob = Agent(running, sid, await running.token("bob", "gemini"))
    crowd = [Agent(running, sid, await running.token(f"agent{n}")) for n in range(8)]

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            watchers = page.locator("#watchers")
            expect(watchers).to_have_text("Watching: viewer (claude, you)")
            bob.join(nursery)
            expect(watchers).to_have_text("Watching: viewer (claude, you), bob (gemini)")
            for agent in crowd:
                agent.join(nursery)
            expect(watchers).to_contain_text("+2 more")  # ten watchers, eight named
            expect(watchers.locator(".watcher")).to_have_count(8)
            for agent in crowd:
                agent.leave()
            expect(watchers).to_have_text("Watching: viewer (claude, you), bob (gemini)")
            bob.leave()
            expect(watchers).to_have_text("Watching: viewer (claude, you)")

    await in_browser(run)


@pytest.mark.parametrize("transport", ["websocket", "sse"])
async def test_typing_in_the_post_form_shows_on_the_other_page_only(
    running: Running, nursery: trio.Nursery, transport: str
) -> None:
    """Page A (writer) types; page B (reader, another identity) shows it, A never shows its
    own. Over the WebSocket A sends the socket's `typing` call; with the WebSocket blocked
    (SSE) it posts to /ui/api/sessions/<id>/typing."""
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="compose", auth_token=alice))["session_id"]
    bot = await running.token("bot")
    listener = Agent(running, sid, await running.token("listener", "gemini"))

    def run() -> None:
        with browser_page(running) as (a, seen):
            other = a.context.browser.new_context(base_url=running.endpoints.http_url)  # type: ignore[union-attr]
            b = other.new_page()
            for page in (a, b):
                page.clock.install()
            if transport == "sse":
                a.route_web_socket("**/ws*", refuse_websocket([]))
            sign_in(a, running.secrets["api_key"], "writer")
            sign_in(b, running.secrets["api_key"], "reader", "gemini")
            for page, via in ((a, transport), (b, "websocket")):
                page.goto(f"/ui/sessions/{sid}")
                expect(page.locator("#live-status")).to_have_attribute("data-transport", via)
                expect(page.locator("#live-status")).to_have_text(LIVE)
            expect(b.locator("#watchers")).to_contain_text("writer (claude)")
            listener.join(nursery)
            freeze_clock(a)
            freeze_clock(b)

            a.locator("#content").press_sequentially("Drafting a reply")
            expect(b.locator("#typing")).to_have_text("writer is composing…")
            mcp(running, "set_typing", session_id=sid, auth_token=bot)
            expect(b.locator("#typing")).to_have_text("writer and bot are composing…")
            # A got its own start before bot's (one change log, in order), and did not show it.
            expect(a.locator("#typing")).to_have_text("bot is composing…")

            a.locator("#content").fill("")  # emptied: a stop
            trio.from_thread.run(listener.wait_typing, "writer", False)
            expect(b.locator("#typing")).to_have_text("bot is composing…")

            a.locator("#content").press_sequentially("Done, see above")
            expect(b.locator("#typing")).to_have_text("bot and writer are composing…")
            a.click("#post")  # the message itself ends the indicator
            expect(b.locator("#typing")).to_have_text("bot is composing…")
            b.clock.run_for(100)
            expect(messages(b, "Done, see above")).to_have_count(1)
            listener.leave()
            other.close()
            via_http = [u for u in seen.urls if u.endswith(f"/ui/api/sessions/{sid}/typing")]
            assert bool(via_http) == (transport == "sse")

    await in_browser(run)
