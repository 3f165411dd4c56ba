"""One WebSocket's outgoing frames: each change at most once, in order, and only what the
socket's identity may see; sent straight from the publisher when the socket is free."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from scsd.access.visibility import can_see_message
from scsd.model import Identity
from scsd.realtime.changes import Change, can_see_change
from scsd.realtime.hub import ALL_SESSIONS
from scsd.realtime.ws.wire import DirectStream, direct_stream, flush_owed, send_text, text_frame


class Outbox:
    """Every frame a `Connection` sends goes through here.

    Sends of a session's messages happen under `lock`, with `last_sent` per session, so a
    `since_id` replay (which holds the lock) and live events interleave without gaps or
    duplicates. `offer` is the hub's direct path (`wire.DirectStream`); `deliver` the queued one.
    A send that makes no progress for `send_timeout` makes `stalled` true: the listener's
    heartbeat then cuts the peer off (one task for all sockets, not a deadline per frame).
    """

    __slots__ = (
        "_direct",
        "_nursery",
        "_send_timeout",
        "_sending_since",
        "_sends",
        "_ws",
        "last_sent",
        "lock",
        "viewer",
    )  # fmt: skip

    def __init__(self, ws: WebSocketConnection, viewer: Identity | None, send_timeout: float) -> None:
        self._ws = ws
        self.viewer = viewer  # None until the socket authenticates: it gets no changes
        self.lock = trio.Lock()
        self.last_sent: dict[str, int] = {}
        self._send_timeout = send_timeout
        self._nursery: trio.Nursery | None = None
        self._direct: DirectStream | None = None  # plain TCP only: TLS takes the queued path
        self._sends = 0  # sends in progress, and since when none has made progress
        self._sending_since = math.inf

    def attach(self, nursery: trio.Nursery) -> None:
        """From now on sends are watched by `stalled` (cutting the peer off cancels
        `nursery`), and the direct path may start a task in `nursery` to finish a frame."""
        self._nursery = nursery
        self._direct = direct_stream(self._ws)

    def stalled(self, now: float) -> bool:
        return now - self._sending_since >= self._send_timeout

    def offer(self, change: Change) -> bool:
        """The hub's direct delivery: send `change` now, in the publisher's task, when nothing
        is ahead of it on this socket. False: queue it for `deliver` instead."""
        # The hot path of a fan-out (once per socket per event): cheap checks first.
        stream = self._direct  # set by `attach`, with the nursery
        if (
            stream is None
            or not stream.idle
            or self.lock.locked()  # a reply, or a subscribe's replay, is being sent
            or self._ws.closed is not None
        ):
            return False
        if not self._due(change):
            return True
        if not stream.write_nowait(change.derived("ws_frame", _frame)):
            # A slow reader (its TCP buffer is full): the rest of the frame, in a task. Until
            # it is written the stream is not idle, so later changes queue behind it. A
            # connection already ending needs no flush (and its nursery takes no new task).
            nursery = self._nursery
            if nursery is not None and not nursery.cancel_scope.cancel_called:
                nursery.start_soon(self._tracked, flush_owed(self._ws, stream))
        return True

    async def deliver(self, change: Change) -> None:
        """Send `change` (taken from the queue), if this socket is to get it."""
        # Take a free lock without a trip through the scheduler: with 1,000 subscribers every
        # yield before the send is a round over all of them before the first byte goes out.
        try:
            self.lock.acquire_nowait()
        except trio.WouldBlock:
            await self.lock.acquire()
        try:
            if self._due(change):
                await self.send_text(change.event_json())
        finally:
            self.lock.release()

    def _due(self, change: Change) -> bool:
        """Whether this socket gets `change`, now that it is next in line to be sent; if so,
        counts it as sent (`last_sent`)."""
        viewer, message = self.viewer, change.message
        if viewer is None:
            return False
        if message is not None:
            if message.visibility != "public" and not can_see_message(viewer, message):
                return False
        elif not can_see_change(viewer, change):
            return False
        last = self.last_sent.get(change.session_id)
        if last is None:
            # The all-sessions feed gets session updates; otherwise: unsubscribed meanwhile.
            return change.kind == "session_update" and ALL_SESSIONS in self.last_sent
        if message is not None:
            if message.id <= last:
                return False  # already sent by a replay
            self.last_sent[change.session_id] = message.id
        return True

    async def send(self, event: dict[str, Any]) -> None:
        await self.send_text(json.dumps(event, ensure_ascii=False))

    async def send_text(self, text: str) -> None:
        # A peer that stops reading fills the TCP buffer and the send blocks: `stalled` says
        # so. (Not a cancel scope per frame: that was a fifth of the fan-out's CPU time.)
        if self._nursery is None:
            # Before `attach` (`connected`, `subscribed`: a few frames per socket, not the
            # fan-out) nothing watches the send: a deadline of its own.
            with trio.move_on_after(self._send_timeout) as scope:
                await send_text(self._ws, text)
            if scope.cancelled_caught:
                raise ConnectionClosed(None)
            return
        await self._tracked(send_text(self._ws, text))

    async def _tracked(self, sending: Awaitable[None]) -> None:
        self._sends += 1
        if self._sends == 1:
            self._sending_since = trio.current_time()
        try:
            await sending
        finally:
            self._sends -= 1
            self._sending_since = trio.current_time() if self._sends else math.inf


def _frame(change: Change) -> bytes:
    return text_frame(change.event_json())
