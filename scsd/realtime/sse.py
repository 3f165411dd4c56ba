"""Server-Sent Events on the HTTP port: the fallback live streams of one session and of every
session's updates (SPEC §6)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

import trio
from quart import Blueprint, Response, request

from scsd.access import validation
from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import TokenInvalid
from scsd.errors import NotFound, ToolError
from scsd.model import VISIBILITIES, Identity
from scsd.realtime.changes import Change, can_see_change
from scsd.realtime.hub import ALL_SESSIONS, Hub
from scsd.store import Store

REPLAY_PAGE: Final = 500
Refusal = tuple[dict[str, str], int]


@dataclass(frozen=True)
class SseConfig:
    allowed_origins: tuple[str, ...] = ()
    heartbeat_seconds: float = 15.0


def blueprint(hub: Hub, store: Store, gatekeeper: Gatekeeper, cfg: SseConfig) -> Blueprint:
    """`GET /ui/sessions/<id>/events`: token auth (`?token=` or Bearer), origin check, resume
    from `Last-Event-ID` or `?since_id=`, visibility-filtered, keep-alive comments; and
    `GET /ui/events`: the `session_update`s of every session (a dashboard's feed), no replay."""
    bp = Blueprint("sse", __name__)

    async def caller() -> Identity | Refusal:
        """Who is asking, from a token or the UI's cookie; or why not (origin, credentials)."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/") not in cfg.allowed_origins:
            return {"error": f"origin {origin} is not allowed"}, 403
        try:
            admission = await gatekeeper.admit(
                request.args.get("token"),
                authorization=request.headers.get("Authorization"),
                cookie_header=request.headers.get("Cookie"),
            )
        except TokenInvalid as e:
            return {"error": str(e)}, 401
        if admission is None:
            return {"error": "a token is required (?token=, Authorization: Bearer, or the UI's sign-in)"}, 401
        return admission.identity

    @bp.get("/ui/events")
    async def all_sessions_events() -> Response | Refusal:
        if not isinstance(who := await caller(), Identity):
            return who
        return _streaming(_all_sessions_stream(hub, who, cfg.heartbeat_seconds))

    @bp.get("/ui/sessions/<session_id>/events")
    async def session_events(session_id: str) -> Response | Refusal:
        if not isinstance(who := await caller(), Identity):
            return who
        try:
            sid = validation.session_id(session_id)
            since = validation.optional_id(_int(request.headers.get("Last-Event-ID")
                                                or request.args.get("since_id")), "since_id")  # fmt: skip
            last = since if since is not None else await store.last_message_id(sid)
            await store.get_session(sid)
        except (ToolError, NotFound):
            return {"error": f"no session {session_id!r}"}, 404
        return _streaming(_stream(hub, store, who, sid, last, since is not None, cfg.heartbeat_seconds))

    return bp


def _streaming(body: AsyncIterator[bytes]) -> Response:
    response = Response(
        body, mimetype="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    response.timeout = None  # a stream, not a request that should finish
    return response


async def _all_sessions_stream(hub: Hub, who: Identity, heartbeat: float) -> AsyncIterator[bytes]:
    with hub.subscribe(who) as sub:
        sub.add(ALL_SESSIONS)  # session updates only, and not a watcher of any session
        yield b"retry: 2000\n\n"
        while True:
            change: Change | None = None
            with trio.move_on_after(heartbeat):
                try:
                    change = await sub.receive.receive()
                except trio.EndOfChannel:
                    return  # too slow, or shutdown: the browser reconnects and re-fetches
            if change is None:
                yield b": keep-alive\n\n"
            elif change.kind == "session_update":
                yield _event(change)


async def _stream(
    hub: Hub, store: Store, who: Identity, sid: str, last: int, replay: bool, heartbeat: float
) -> AsyncIterator[bytes]:
    with hub.subscribe(who) as sub:
        sub.add(sid)  # follow first, then replay: nothing falls in between
        yield b"retry: 2000\n\n"
        yield _event(Change.presence_update(sub.presence(sid)))  # who watches now, this stream included
        while replay:
            page = await store.get_messages(
                sid, who, visibilities=VISIBILITIES, since_id=last, limit=REPLAY_PAGE
            )
            for message in page.messages:
                yield _event(Change.new_message(message))
                last = message.id
            replay = len(page.messages) == REPLAY_PAGE
        while True:
            change: Change | None = None
            with trio.move_on_after(heartbeat):
                try:
                    change = await sub.receive.receive()
                except trio.EndOfChannel:
                    return  # too slow, or shutdown: the browser reconnects with Last-Event-ID
            if change is None:
                yield b": keep-alive\n\n"
            elif can_see_change(who, change):
                if change.message is not None:
                    if change.message.id <= last:
                        continue
                    last = change.message.id
                yield _event(change)


def _event(change: Change) -> bytes:
    data = json.dumps(change.data(), ensure_ascii=False)
    ident = f"id: {change.message.id}\n" if change.message is not None else ""
    return f"{ident}event: {change.kind}\ndata: {data}\n\n".encode()


def _int(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise ToolError("INVALID_INPUT", "Last-Event-ID / since_id must be a message id") from None
