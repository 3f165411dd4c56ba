"""Hypothesis-generated frames against one live daemon's WebSocket: whatever a client sends,
its socket either keeps answering pings or is closed with 1008/1009, a fresh socket works,
and /health stays 200."""

from __future__ import annotations

import json

import httpx
import trio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed, WebSocketConnection, connect_websocket_url, open_websocket_url

from tests.kit.clients import next_event
from tests.kit.daemon import Running

TOOLS = [
    "authenticate",
    "subscribe",
    "unsubscribe",
    "get_messages",
    "get_session_info",
    "ping",
    "add_message",
]
ARGUMENT_NAMES = ["session_id", "since_id", "limit", "token"]
ALLOWED_CLOSES = (1008, 1009)

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def frames(session_id: str, token: str) -> st.SearchStrategy[str]:
    """Arbitrary text, near-64-KiB frames, and JSON objects shaped more or less like calls."""
    names = st.sampled_from(TOOLS) | text
    values = st.sampled_from([session_id, token, "session_0123456789abcdef", 0, -1, 10**30]) | json_values
    arguments = st.dictionaries(st.sampled_from(ARGUMENT_NAMES) | text, values, max_size=4)
    calls = st.fixed_dictionaries(
        {"tool": names, "arguments": arguments | json_values},
        optional={"id": json_values, "type": st.sampled_from(["ping", "pong"]) | json_values},
    )
    objects = st.dictionaries(text, json_values, max_size=5)
    return st.one_of(
        text,
        st.builds(json.dumps, calls | objects),
        st.builds(lambda n: " " * n, st.integers(64 * 1024 - 4, 64 * 1024 + 4)),
    )


class Probe:
    """One long-lived socket that receives the generated frames (reopened if closed)."""

    def __init__(self, running: Running, nursery: trio.Nursery, url: str) -> None:
        self.running, self.nursery, self.url = running, nursery, url
        self.ws: WebSocketConnection | None = None
        self.closes: list[int | None] = []
        self.examples = 0

    async def check(self, frame: str) -> None:
        with trio.fail_after(15):
            self.examples += 1
            if self.ws is None:
                self.ws = await connect_websocket_url(self.nursery, self.url)
                await next_event(self.ws, "connected")
            probe = f"probe {self.examples}"
            try:
                await self.ws.send_message(frame)
                await self.ws.send_message(json.dumps({"type": "ping", "id": probe}))
                while (await next_event(self.ws, "pong")).get("id") != probe:
                    pass
            except ConnectionClosed as e:
                self.closes.append(e.reason.code if e.reason else None)
                assert self.closes[-1] in ALLOWED_CLOSES, f"closed with {e.reason} after {frame[:200]!r}"
                self.ws = None
            async with open_websocket_url(self.url) as fresh:
                await next_event(fresh, "connected")
                await fresh.send_message(json.dumps({"type": "ping", "id": "fresh"}))
                assert await next_event(fresh, "pong") == {"type": "pong", "id": "fresh"}
            async with httpx.AsyncClient() as client:
                health = await client.get(f"{self.running.endpoints.http_url}/health")
            assert health.status_code == 200, health.text


async def test_arbitrary_frames_never_break_the_socket_or_the_daemon(running: Running) -> None:
    token = await running.token("fuzzer")
    reply = await running.mcp().call("create_session", purpose="fuzz", auth_token=token)
    session_id = reply["session_id"]
    await running.mcp().call("add_message", session_id=session_id, content="hello", auth_token=token)
    url = f"{running.endpoints.ws_url}/ws?token={token}"

    async with trio.open_nursery() as nursery:
        probe = Probe(running, nursery, url)

        # Hypothesis drives the examples from a worker thread; each example's I/O runs back
        # on this trio loop, so one daemon serves the whole property.
        @settings(
            max_examples=50,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(frame=frames(session_id, token))
        @example(frame=" " * (64 * 1024 + 1))
        @example(frame='{"tool": "subscribe", "arguments": {"session_id": null}, "id": {"a": [1e400]}}')
        def property_(frame: str) -> None:
            trio.from_thread.run(probe.check, frame)

        await trio.to_thread.run_sync(property_)
        if probe.ws is not None:
            await probe.ws.aclose()
    assert probe.examples >= 50
    assert 1009 in probe.closes  # the explicit oversized example did close its socket
