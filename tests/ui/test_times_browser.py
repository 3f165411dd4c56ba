"""Times a human reads, in a real Chromium under an emulated time zone (issue 16, item 2):
each message's local HH:MM (seconds in a burst), its age in the tooltip, day separators, local
times on the audit and memory pages, and ages that keep updating."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.kit.browser import LIVE, browser_page, in_browser, mcp, require_chromium, sign_in
from tests.kit.daemon import Running
from tests.kit.uipage import set_message_time

ZONE = "Asia/Tokyo"  # UTC+9 all year: far from the machine's UTC, no DST
TOKYO = ZoneInfo(ZONE)
LOCAL = {"timezone_id": ZONE, "locale": "en-GB"}


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


def local(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(TOKYO)


def day_label(when: datetime, now: datetime) -> re.Pattern[str]:
    if when.date() == now.date():
        return re.compile("^Today$")
    if when.date() == (now - timedelta(days=1)).date():
        return re.compile("^Yesterday$")
    return re.compile(rf"^{when:%A},? {when.day} {when:%B} {when.year}$")


def stamp(when: datetime, now: datetime) -> str:
    """What a <time data-local> shows: "Today 14:02:31", else "3 Dec 2026, 14:02:31"."""
    if when.date() == now.date():
        return f"Today {when:%H:%M:%S}"
    return f"{when.day} {when:%b} {when.year}, {when:%H:%M:%S}"


def micros(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


async def test_messages_show_local_times_bursts_and_day_separators(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="times", auth_token=alice))["session_id"]
    now = datetime.now(UTC)
    minute = now.replace(second=0, microsecond=0) - timedelta(minutes=10)
    moments = [now - timedelta(days=3), now - timedelta(days=1), minute + timedelta(seconds=5),
               minute + timedelta(seconds=35), minute + timedelta(minutes=3, seconds=1)]  # fmt: skip
    for n, when in enumerate(moments):
        reply = await running.mcp().call("add_message", session_id=sid, content=f"m{n}", auth_token=alice)
        set_message_time(running, reply["message_id"], micros(when))

    def run() -> None:
        with browser_page(running, **LOCAL) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            here = datetime.now(TOKYO)
            stamps = page.locator("#messages time.stamp")
            shown = [local(moment.isoformat().replace("+00:00", "Z")) for moment in moments]
            burst = {2, 3}  # the same minute: seconds tell them apart
            expected = [f"{w:%H:%M:%S}" if i in burst else f"{w:%H:%M}" for i, w in enumerate(shown)]
            expect(stamps).to_have_text(expected)
            assert "days ago" in (stamps.nth(0).get_attribute("title") or "")
            assert re.search(
                r"\d\d:\d\d:\d\d \(\d+ minutes ago\)$", stamps.nth(4).get_attribute("title") or ""
            )
            # A separator before the first message of each local day, and only there.
            days = [w.date() for w in shown]
            for i, li in enumerate(page.locator("#messages > li").all()):
                sep = li.locator(":scope > .day-separator")
                if i == 0 or days[i] != days[i - 1]:
                    expect(sep).to_have_text(day_label(shown[i], here))
                else:
                    expect(sep).to_have_count(0)
            # A live message: local time too, and it breaks the burst of nothing.
            mcp(running, "add_message", session_id=sid, content="live now", auth_token=alice)
            expect(page.locator("#messages > li")).to_have_count(6)
            live = page.locator("#messages > li").last
            iso = live.locator("time.stamp").get_attribute("datetime") or ""
            expect(live.locator("time.stamp")).to_have_text(re.compile(rf"^{local(iso):%H:%M}(:\d\d)?$"))

    await in_browser(run)


def check_local_stamps(page: Page, selector: str) -> int:
    here = datetime.now(TOKYO)
    times = page.locator(selector).all()
    for t in times:
        iso = t.get_attribute("datetime") or ""
        expect(t).to_have_text(stamp(local(iso), here))
        assert iso in (t.get_attribute("title") or "")  # the UTC original, for the record
    return len(times)


async def test_audit_and_memory_pages_show_local_times(running: Running) -> None:
    alice = await running.token("alice")
    await running.mcp().call("set_memory", key="k", value=1, auth_token=alice)

    def run() -> None:
        with browser_page(running, **LOCAL) as (page, _):
            sign_in(page, running.secrets["admin_key"], "ops")
            page.goto("/ui/audit")
            assert check_local_stamps(page, "#audit time[data-local]") >= 2
            page.goto("/ui/memory?agent_id=alice")
            assert check_local_stamps(page, "#memory time[data-local]") == 1
            page.click(".memory-key")
            assert check_local_stamps(page, "#entry-facts time[data-local]") == 2

    await in_browser(run)


async def test_ages_keep_updating(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="ages", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content="hello", auth_token=alice)

    def run() -> None:
        with browser_page(running, **LOCAL) as (page, _):
            page.clock.install(time=time.time())
            sign_in(page, running.secrets["api_key"], "viewer")
            activity = page.locator(f"#sessions tr[data-session-id='{sid}'] time")
            expect(activity).to_have_text("just now")
            page.clock.fast_forward("03:00")
            expect(activity).to_have_text("3 minutes ago")
            assert "3 minutes ago" in (activity.get_attribute("title") or "")
            page.goto(f"/ui/sessions/{sid}")
            stamp_el = page.locator("#messages time.stamp")
            expect(stamp_el).to_have_attribute("title", re.compile(r"\(just now\)$|\(\d+ minutes? ago\)$"))
            page.clock.fast_forward("02:00:00")
            expect(stamp_el).to_have_attribute("title", re.compile(r"\(2 hours ago\)$"))

    await in_browser(run)
