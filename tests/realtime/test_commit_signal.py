"""Another process's writes reach the daemon's subscribers by the kernel's signal (inotify),
with the poll pushed out to an hour so nothing else could deliver them; and, with the
signal switched off by the setting, by the poll alone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from scsd.config import Config
from tests.kit.clients import next_event
from tests.kit.daemon import Running, make_config, new_session, stdio_client

MODES = {
    "inotify": {"commit_signal": "auto", "poll_seconds": 30.0, "safety_poll_seconds": 3600.0},
    "poll": {"commit_signal": "poll", "poll_seconds": 0.05},
}


@pytest.fixture(params=sorted(MODES))
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Config:
    return make_config(tmp_path, **MODES[request.param])


async def test_writes_of_scsd_stdio_reach_a_subscriber(running: Running) -> None:
    expected = "poll" if running.config.commit_signal == "poll" else "inotify"
    with trio.fail_after(60):
        async with httpx.AsyncClient() as client:
            health = (await client.get(f"{running.endpoints.http_url}/health")).json()
        assert health["watcher"]["commit_signal"] == expected
        token = await running.token("cli-agent")
        sid = await new_session(running, token)
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}?token={token}") as ws:
            await next_event(ws, "subscribed")
            calls = [("add_message", {"session_id": sid, "content": f"from stdio {n}"}) for n in range(3)]
            replies = await stdio_client(running, "cli-agent").calls(calls)
            got = [(await next_event(ws, "new_message"))["data"]["id"] for _ in replies]
    assert got == [r["message_id"] for r in replies]
