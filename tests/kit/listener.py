"""The WebSocket listener alone for tests: a real store and hub, tokens, hand-made changes."""

from __future__ import annotations

from pathlib import Path

import trio

from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import Authority
from scsd.model import Identity, Message
from scsd.process import net
from scsd.realtime.changes import Change
from scsd.realtime.composing import Gate, TypingSignals
from scsd.realtime.hub import Hub
from scsd.realtime.ws import server as ws
from scsd.realtime.ws.limits import WsConfig
from scsd.store import Store, open_store


class Listener:
    """The WebSocket listener on its own (no daemon, no MCP): a real store in a tmp dir, a hub
    the test publishes to by hand, and tokens from the listener's authority."""

    def __init__(self, hub: Hub, store: Store, authority: Authority, port: int) -> None:
        self.hub, self.store, self.authority, self.port = hub, store, authority, port

    def token(self, agent_id: str = "alice") -> str:
        identity = Identity(agent_id, "claude", frozenset({"read", "write"}))
        return self.authority.issue(identity).token


async def serve_listener(nursery: trio.Nursery, tmp_path: Path, cfg: WsConfig, buffer: int = 256) -> Listener:
    """`scsd.realtime.ws.server.serve` on port 0, over a store in `tmp_path`."""
    store = await nursery_store(nursery, tmp_path)
    hub = Hub(buffer)
    authority = Authority("a" * 20, "b" * 20, "c" * 32, 3600)
    sock = net.bind("127.0.0.1", 0, "WebSocket", "")
    stop = trio.Event()
    gatekeeper, typing = Gatekeeper(authority, store.is_revoked), TypingSignals(store, Gate())
    port = await nursery.start(ws.serve, hub, store, gatekeeper, typing, cfg, sock, stop.wait, ws.WsStats())
    return Listener(hub, store, authority, port)


async def nursery_store(nursery: trio.Nursery, tmp_path: Path) -> Store:
    """A store on `tmp_path / "t.db"`, open until the nursery ends."""
    opened: list[Store] = []
    ready = trio.Event()

    async def hold() -> None:
        async with open_store(tmp_path / "t.db") as store:
            opened.append(store)
            ready.set()
            await trio.sleep_forever()

    nursery.start_soon(hold)
    await ready.wait()
    return opened[0]


def message_change(
    session_id: str, message_id: int, sender: str = "alice", visibility: str = "public"
) -> Change:
    """A `new_message` change as the watcher would publish it (nothing is stored)."""
    msg = Message(
        message_id,
        session_id,
        sender,
        "claude",
        f"m{message_id}",
        visibility,
        "agent_response",
        {},
        1_700_000_000_000_000 + message_id,
        None,
    )
    return Change("new_message", session_id, msg)
