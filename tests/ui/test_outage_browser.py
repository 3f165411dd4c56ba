"""A real `scsd serve` process killed by its PID under open pages, kept down for 30 s and
started again on the same ports (issue 16, item 6): the pages say so honestly (reconnecting,
then unavailable, since when, the last message, "Retry now", stale content dimmed), keep the
composer's draft, and come back live with every message exactly once. The page's own record
of its retry schedule shows the backoff stayed capped (the recovery time itself is measured by
bench/ui_recovery.py, not asserted here)."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any, Final

import pytest
import trio
from playwright.sync_api import expect

from scsd.model import Endpoints, Identity
from scsd.store import open_store
from tests.kit.browser import (
    LIVE,
    SCREENSHOTS,
    browser_page,
    in_browser,
    messages,
    require_chromium,
    screenshots_wanted,
    sign_in,
)
from tests.kit.clients import McpHttp
from tests.kit.crash import FixedPortDaemon
from tests.kit.daemon import Running, free_port, make_config

DOWN_SECONDS: Final = 30.0
BACKOFF_CAP_MS: Final = 1500  # web/static/js/connection.js
UNAVAILABLE_WAIT_MS: Final = 45_000  # "unavailable" comes 15 s after going offline; a busy machine adds more
BACK_WAIT_MS: Final = 60_000


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


def on_trio(fn: Any, *args: Any) -> Any:
    return trio.from_thread.run(fn, *args)


async def test_daemon_killed_for_30_s_comes_back_live_with_every_message_once(tmp_path: Path) -> None:
    http_port, ws_port = free_port(), free_port()
    config = make_config(tmp_path, port=http_port, ws_port=ws_port)
    daemons = FixedPortDaemon(config.data_dir, tmp_path, http_port, ws_port)
    try:
        await trio.to_thread.run_sync(daemons.start)
        secrets = json.loads((config.data_dir / "secrets.json").read_text())
        where = Endpoints("127.0.0.1", http_port, "127.0.0.1", ws_port)
        await run_outage(Running(config, where, secrets, trio.Event()), daemons)
    finally:
        await trio.to_thread.run_sync(daemons.stop)


async def run_outage(running: Running, daemons: FixedPortDaemon) -> None:
    keyed = McpHttp(running.mcp_url, {"X-API-Key": running.secrets["api_key"]})
    alice = (await keyed.call("authenticate_agent", agent_id="alice", agent_type="claude"))["token"]
    mcp = McpHttp(running.mcp_url)
    sid = (await mcp.call("create_session", purpose="outage", auth_token=alice))["session_id"]
    await mcp.call("add_message", session_id=sid, content="before", auth_token=alice)

    async def write_while_down() -> None:
        writer = Identity("alice", "claude", frozenset({"read", "write"}))
        async with open_store(running.config.database) as store:
            for n in range(1, 4):
                await store.add_message(sid, writer, f"during outage {n}", "public", {}, None)

    async def after_restart() -> None:
        await mcp.call("add_message", session_id=sid, content="after restart", auth_token=alice)

    timings: dict[str, float] = {}
    shot = running.config.data_dir.parent / "session-offline-desktop-light.png"

    def run() -> None:
        with browser_page(running, viewport={"width": 1100, "height": 800}) as (page, _):
            sign_in(page, running.secrets["api_key"], "human", "developer")
            board = page.context.new_page()
            board.goto("/ui/")
            page.goto(f"/ui/sessions/{sid}")
            status, board_status = page.locator("#live-status"), board.locator("#live-status")
            for s in (status, board_status):
                expect(s).to_have_text(LIVE)
            page.evaluate("window.__noReload = true")
            page.locator("#content").fill("a draft written before the outage")
            expect(page.locator("#retry-now")).to_be_hidden()

            daemons.kill()
            killed = time.monotonic()
            expect(status).to_have_text("Reconnecting…")
            expect(page.locator("body")).to_have_class(re.compile(r"\bstale\b"))
            opacity = float(page.eval_on_selector("#messages", "e => getComputedStyle(e).opacity"))
            assert opacity < 1  # the content is dimmed: it may be out of date
            expect(page.locator("#retry-now")).to_be_visible()
            detail = page.locator("#live-detail")
            expect(detail).to_have_text(
                re.compile(r"^offline since \d\d:\d\d:\d\d · last message \d\d:\d\d$")
            )
            expect(status).to_have_text(
                "Unavailable: the server does not answer", timeout=UNAVAILABLE_WAIT_MS
            )
            expect(detail).to_contain_text("retrying every 1.5 s")
            expect(board_status).to_have_text(
                "Unavailable: the server does not answer", timeout=UNAVAILABLE_WAIT_MS
            )
            page.click("#post")  # posting while down: refused, the text kept
            expect(page.locator("#post-error")).to_contain_text("the server does not answer")
            expect(page.locator("#content")).to_have_value("a draft written before the outage")
            page.locator("#retry-now").click()  # by hand: still down, still honest
            expect(status).to_have_text("Unavailable: the server does not answer")
            page.screenshot(path=str(shot), animations="disabled")

            on_trio(write_while_down)
            page.wait_for_timeout(max(0.0, DOWN_SECONDS - (time.monotonic() - killed)) * 1000)
            timings["down"] = time.monotonic() - killed
            ready_at = daemons.start()
            for s in (status, board_status):
                expect(s).to_have_text(LIVE, timeout=BACK_WAIT_MS)
            timings["recovery"] = float(page.eval_on_selector("#connection", "e => e.dataset.liveAt")) / 1000
            timings["recovery"] -= ready_at
            expect(page.locator("body")).not_to_have_class(re.compile(r"\bstale\b"))
            expect(page.locator("#retry-now")).to_be_hidden()
            expect(detail).to_have_text("")
            for n in range(1, 4):
                expect(messages(page, f"during outage {n}")).to_have_count(1)
            # The page's own record: it kept trying, never waiting longer than the cap.
            record = page.eval_on_selector("#connection", "e => ({...e.dataset})")
            assert 0 < float(record["maxBackoffMs"]) <= BACKOFF_CAP_MS, record
            assert int(record["attempts"]) >= 10, record  # about one a second for 30 s
            expect(page.locator("#content")).to_have_value("a draft written before the outage")
            page.locator("#content").press("Control+Enter")  # the draft, posted now
            expect(messages(page, "a draft written before the outage")).to_have_count(1)
            on_trio(after_restart)
            expect(messages(page, "after restart")).to_have_count(1)
            texts = page.locator("#messages > li .content").all_inner_texts()
            assert texts == ["before", "during outage 1", "during outage 2", "during outage 3",
                             "a draft written before the outage", "after restart"]  # fmt: skip
            ids = page.eval_on_selector_all("#messages > li", "els => els.map(e => Number(e.dataset.id))")
            assert ids == sorted(set(ids))
            expect(board.locator(f"#sessions tr[data-session-id='{sid}'] .count")).to_have_text("6")
            assert page.evaluate("window.__noReload") is True

    await in_browser(run, seconds=240)
    if screenshots_wanted():
        shutil.copy(shot, SCREENSHOTS / shot.name)
    assert timings["down"] >= DOWN_SECONDS
    print(f"down {timings['down']:.1f} s; live again {timings['recovery']:.2f} s after the daemon was ready")
