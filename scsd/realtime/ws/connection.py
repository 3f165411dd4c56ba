"""One WebSocket connection's protocol: calls in, events out, in order, nothing it may not see."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from scsd import __version__
from scsd.access import validation
from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import TokenInvalid
from scsd.errors import NotFound, ToolError, invalid_input
from scsd.model import Identity
from scsd.realtime.changes import Change
from scsd.realtime.composing import TypingSignals
from scsd.realtime.hub import ALL_SESSIONS, Hub, Subscription
from scsd.realtime.ws import calls
from scsd.realtime.ws.calls import (
    authenticate_first,
    no_session,
    too_many_subscriptions,
    unknown_tool,
    with_id,
)
from scsd.realtime.ws.limits import FrameBudget, SocketQuota, WsConfig
from scsd.realtime.ws.outbox import Outbox
from scsd.realtime.ws.wire import CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_RESYNC
from scsd.store import Store

logger = logging.getLogger(__name__)

REPLAY_PAGE: Final = 500


@dataclass(frozen=True)
class ConnectionDeps:
    """What every connection of one listener shares (one reference per socket: memory)."""

    hub: Hub
    store: Store
    gatekeeper: Gatekeeper
    typing: TypingSignals
    cfg: WsConfig
    quota: SocketQuota


class Connection:
    """Runs one accepted socket until the peer leaves, the hub cuts it off, or shutdown:
    its calls, and its frames out (through its `Outbox`). Without an identity (a `/ws`
    opened without credentials) only `authenticate` and ping are served.
    """

    # Slots: memory per idle socket (SPEC §8).
    __slots__ = ("_authenticated", "_cfg", "_deps", "_next_ping", "_nursery", "_out", "_ws")

    def __init__(self, ws: WebSocketConnection, identity: Identity | None, deps: ConnectionDeps) -> None:
        self._ws = ws
        self._deps = deps
        cfg = self._cfg = deps.cfg
        self._out = Outbox(ws, identity, cfg.send_timeout_seconds)
        self._nursery: trio.Nursery | None = None  # run()'s; `tick` cancels it to cut a peer off
        self._next_ping = trio.current_time() + cfg.ping_interval_seconds
        # Only a socket opened without credentials waits for `authenticate` (memory per socket).
        self._authenticated = trio.Event() if identity is None else None

    @property
    def identity(self) -> Identity | None:
        return self._out.viewer

    async def run(self, session_id: str | None) -> None:
        with self._deps.hub.subscribe(self._out.viewer) as sub:
            who = self._out.viewer
            await self._out.send({"type": "connected", "data": {
                "agent_id": who.agent_id if who else None,
                "agent_type": who.agent_type if who else None,
                "authenticated": who is not None,
                "server_version": __version__}})  # fmt: skip
            if session_id is not None:
                try:
                    await self._subscribe(sub, session_id, None, None)
                except ToolError as e:
                    await self._send_error(e, None)
                    await self._ws.aclose(CLOSE_POLICY, e.message[:120])
                    return
            async with trio.open_nursery() as nursery:
                self._nursery = nursery  # for `tick`: pings, and cutting a silent peer off
                self._out.attach(nursery)
                nursery.start_soon(self._pump, sub, nursery.cancel_scope)
                if self._authenticated is not None:
                    nursery.start_soon(
                        self._require_authentication, self._authenticated, nursery.cancel_scope
                    )
                await self._read_calls(sub)
                nursery.cancel_scope.cancel()

    async def _require_authentication(self, authenticated: trio.Event, scope: trio.CancelScope) -> None:
        with trio.move_on_after(self._cfg.auth_seconds):
            await authenticated.wait()
            return
        await self._ws.aclose(CLOSE_POLICY, "not authenticated in time")
        scope.cancel()

    async def _pump(self, sub: Subscription, scope: trio.CancelScope) -> None:
        sub.direct = self._out.offer
        while True:
            try:
                change = await sub.receive.receive()
            except trio.EndOfChannel:
                break
            await self._out.deliver(change)
        if sub.dropped:
            # We fell too far behind. The client resyncs from its last id: nothing is lost.
            await self._ws.aclose(CLOSE_RESYNC, "resync: too slow, reconnect with since_id")
        else:
            await self._ws.aclose(CLOSE_GOING_AWAY, "server shutting down")  # the hub closed
        scope.cancel()

    def tick(self, now: float) -> None:
        """The listener's heartbeat task calls this for every connection, every tick: cut the
        peer off if our sends made no progress for `send_timeout_seconds` (it stopped
        reading), else start the ping when it is due."""
        if self._nursery is None or self._nursery.cancel_scope.cancel_called:
            # Not running yet (its first sends have a deadline of their own), or ending: its
            # nursery may already be closed to new tasks before ws.py forgets it.
            return
        if self._out.stalled(now):
            self._nursery.cancel_scope.cancel()
        elif now >= self._next_ping:
            self._next_ping = now + self._cfg.ping_interval_seconds
            self._nursery.start_soon(self._ping)

    async def _ping(self) -> None:
        """The protocol's `ping` event, plus a WebSocket ping whose pong must come back in
        time: a peer that vanished without closing is detected and dropped."""
        await self._out.send({"type": "ping"})
        with trio.move_on_after(self._cfg.send_timeout_seconds) as scope:
            await self._ws.ping()
        if scope.cancelled_caught:
            raise ConnectionClosed(None)

    async def _read_calls(self, sub: Subscription) -> None:
        budget = FrameBudget(self._cfg.frames_per_second, self._cfg.frame_burst)
        while True:
            try:
                text = await self._ws.get_message()
            except ConnectionClosed:
                return
            if not budget.take():
                await self._ws.aclose(CLOSE_POLICY, "too many frames; slow down")
                return
            call_id: Any = None
            try:
                call = json.loads(text)
                if not isinstance(call, dict):
                    raise ToolError("INVALID_JSON", "Each frame must be a JSON object.")
                call_id = call.get("id")
                await self._dispatch(sub, call, call_id)
            except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
                await self._send_error(ToolError("INVALID_JSON", "Frame is not valid JSON."), None)
            except ToolError as e:
                await self._send_error(e, call_id)

    async def _dispatch(self, sub: Subscription, call: Mapping[str, Any], call_id: Any) -> None:
        if call.get("type") == "ping":
            await self._out.send(with_id({"type": "pong"}, call_id))
            return
        tool, args = call.get("tool"), call.get("arguments") or {}
        if not isinstance(args, dict):
            raise ToolError("INVALID_INPUT", "arguments must be a JSON object.")
        if tool == "authenticate":
            sub.identify(await self._authenticate(args.get("token"), call_id))
            return
        who = self._out.viewer
        if who is None:
            raise authenticate_first()
        if tool == "subscribe" and args.get("session_id") == ALL_SESSIONS:
            sub.add(ALL_SESSIONS)
            self._out.last_sent[ALL_SESSIONS] = 0
            reply: dict[str, Any] = {"type": "subscribed", "session_id": ALL_SESSIONS, "data": {}}
        elif tool == "typing":
            data = await self._deps.typing.signal(who, args.get("session_id"), args.get("typing", True))
            reply = {"type": "typing_set", "session_id": data.pop("session_id"), "data": data}
        elif tool == "subscribe":
            sid = validation.session_id(args.get("session_id"))
            if sid not in sub.sessions and len(sub.sessions) >= self._cfg.max_subscriptions_per_socket:
                raise too_many_subscriptions()
            since = validation.optional_id(args.get("since_id"), "since_id")
            await self._subscribe(sub, sid, since, call_id)  # it replies: then the replay
            return
        elif tool == "unsubscribe":
            raw = args.get("session_id")
            sid = ALL_SESSIONS if raw == ALL_SESSIONS else validation.session_id(raw)
            sub.discard(sid)
            self._out.last_sent.pop(sid, None)
            reply = {"type": "unsubscribed", "session_id": sid}
        elif tool == "get_messages":
            reply = await calls.get_messages(self._deps.store, who, args)
        elif tool == "get_session_info":
            reply = await calls.get_session_info(self._deps.store, args)
        else:
            raise unknown_tool(tool)
        await self._out.send(with_id(reply, call_id))

    async def _authenticate(self, token: object, call_id: Any) -> Identity:
        if not isinstance(token, str) or not token:
            raise invalid_input("arguments.token must be a token string.", "token")
        try:
            identity = (await self._deps.gatekeeper.check_token(token)).identity
        except TokenInvalid as e:
            raise ToolError("TOKEN_AUTHENTICATION_FAILED", f"The token was refused: {e}.") from None
        if self._out.viewer is None or identity.agent_id != self._out.viewer.agent_id:
            if not self._deps.quota.claim(identity.agent_id):
                raise ToolError(
                    "LIMIT_EXCEEDED", f"{identity.agent_id} already holds the maximum of sockets."
                )
            if self._out.viewer is not None:
                self._deps.quota.release(self._out.viewer.agent_id)
        self._out.viewer = identity
        if self._authenticated is not None:
            self._authenticated.set()
        data = {"agent_id": identity.agent_id, "agent_type": identity.agent_type,
                "permissions": sorted(identity.permissions)}  # fmt: skip
        await self._out.send(with_id({"type": "authenticated", "data": data}, call_id))
        return identity

    async def _subscribe(self, sub: Subscription, sid: str, since: int | None, call_id: Any) -> None:
        async with self._out.lock:
            # Follow the hub first, then read: anything committed meanwhile arrives through
            # the hub too, and `_last_sent` drops the copy.
            sub.add(sid)
            try:
                last_id = await self._deps.store.last_message_id(sid)
                await self._deps.store.get_session(sid)
            except NotFound:
                sub.discard(sid)
                raise no_session(sid) from None
            self._out.last_sent[sid] = last_id if since is None else since
            data = {"last_id": last_id, "presence": sub.presence(sid).to_json()}
            await self._out.send(with_id({"type": "subscribed", "session_id": sid, "data": data}, call_id))
            while since is not None and self._out.last_sent[sid] < last_id:
                assert self._out.viewer is not None  # calls are refused before authentication
                page = await calls.page(
                    self._deps.store, self._out.viewer, sid, self._out.last_sent[sid], REPLAY_PAGE
                )
                if not page:
                    break
                for message in page:
                    await self._out.send_text(Change.new_message(message).event_json())
                    self._out.last_sent[sid] = message.id
            self._out.last_sent[sid] = max(self._out.last_sent[sid], last_id)

    async def close_going_away(self) -> None:
        """Close the socket with 1001 (the daemon is shutting down)."""
        await self._ws.aclose(CLOSE_GOING_AWAY, "server shutting down")

    async def _send_error(self, e: ToolError, call_id: Any) -> None:
        error = {"type": "error", "data": {"code": e.code, "message": e.message}}
        await self._out.send(with_id(error, call_id))
