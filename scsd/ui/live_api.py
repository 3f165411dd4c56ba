"""The UI's small JSON API for its live pages: session summaries (the dashboard), messages
after an id (the session page's periodic-refresh fallback), posting from the composer without
a reload, and the composer's typing signal when the page has no WebSocket.

Cookie-authenticated like the pages, plus the `X-CSRF-Token` header as `/ui/api/token`
asks; every count and message obeys the signed-in identity's visibility rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from quart import Blueprint, request

from scsd.access import validation
from scsd.errors import NotFound, ToolError
from scsd.model import VISIBILITIES, Identity, JsonObject, Message, Session
from scsd.realtime.composing import TypingSignals
from scsd.store import Store
from scsd.ui.auth import CSRF_HEADER, UiAuth, csrf_ok

DASHBOARD_SESSIONS: Final = 200
# A summary names at most this many participants (the most recently active) and counts all.
PARTICIPANTS_LISTED: Final = 50
POLL_PAGE: Final = 200

Reply = tuple[JsonObject, int, dict[str, str]]
# The typing endpoint's HTTP status per error code (any other: 400, bad input).
TYPING_STATUS: Final = {"PERMISSION_DENIED": 403, "SESSION_NOT_FOUND": 404, "RATE_LIMITED": 429}
NO_STORE: Final = {"Cache-Control": "no-store"}


class PostRefused(Exception):
    """A post the UI refuses, with the HTTP status and a sentence that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def postable(who: Identity) -> list[str]:
    """The visibilities `who` may post from the UI (admin_only for admins only)."""
    return [v for v in VISIBILITIES if v != "admin_only" or who.is_admin]


async def post_message(
    store: Store, me: Identity, session_id: str, content: object, visibility: object
) -> Message:
    """Post `content` as `me` (`message_type` human_input), audited; the form and the
    composer's JSON endpoint both come here. Raises PostRefused."""
    if not me.can("write"):
        raise PostRefused(403, "You may not post: your agent type has no write permission.")
    try:
        sid = validation.session_id(session_id)
        level = validation.visibility(visibility if isinstance(visibility, str) else "public")
        if level not in postable(me):
            raise PostRefused(403, "Only admins may post admin_only messages.")
        raw = content if isinstance(content, str) else ""
        text = validation.clean_text(raw, "content", validation.MAX_CONTENT)
        message = await store.add_message(sid, me, text, level, {}, None, "human_input")
    except ToolError as e:
        raise PostRefused(400, e.message) from None
    except NotFound:
        raise PostRefused(404, "No such session.") from None
    await store.audit("message_added", me.agent_id, session_id=sid,
                      metadata={"message_id": message.id, "visibility": level, "via": "ui"})  # fmt: skip
    return message


async def summarize(store: Store, viewer: Identity, session: Session) -> JsonObject:
    """The session object plus what `viewer` may see of it: `message_count`, `participants`
    (distinct senders, most recent first, at most PARTICIPANTS_LISTED), `participants_total`
    (all of them) and `participants_partial` (true when the list stops short of the total)."""
    who = await store.participants(session.id, viewer, limit=PARTICIPANTS_LISTED)
    return {
        **session.to_json(),
        "message_count": who.messages,
        "participants": who.senders,
        "participants_total": who.total,
        "participants_partial": who.total > len(who.senders),
    }


async def summaries(store: Store, viewer: Identity, updated_after_micros: int = -1) -> list[JsonObject]:
    """Summaries of the most recently active sessions (newest activity first), only those
    updated after `updated_after_micros`."""
    sessions = await store.list_sessions(limit=DASHBOARD_SESSIONS, offset=0, active_only=False)
    return [await summarize(store, viewer, s) for s in sessions if s.updated_at > updated_after_micros]


def add_routes(bp: Blueprint, store: Store, auth: UiAuth, typing: TypingSignals) -> None:
    """Add `GET /ui/api/sessions`, `/ui/api/sessions/<id>/summary`,
    `/ui/api/sessions/<id>/messages` and `POST /ui/api/sessions/<id>/messages` and
    `/ui/api/sessions/<id>/typing` to the UI's blueprint."""

    def who() -> Identity | Reply:
        if (me := auth.current()) is None:
            return {"error": "not signed in"}, 401, NO_STORE
        if not csrf_ok(me, request.headers.get(CSRF_HEADER)):
            return {"error": "CSRF token missing or wrong"}, 403, NO_STORE
        return me.identity

    @bp.get("/ui/api/sessions")
    async def api_sessions() -> Reply:
        """`?updated_after=ISO`: only sessions with activity after that time."""
        if not isinstance(me := who(), Identity):
            return me
        raw = request.args.get("updated_after", "")
        try:
            after = _micros(raw) if raw else -1
        except ValueError:
            return {"error": "updated_after must be an ISO 8601 time"}, 400, NO_STORE
        return {"sessions": await summaries(store, me, after)}, 200, NO_STORE

    @bp.get("/ui/api/sessions/<session_id>/summary")
    async def api_summary(session_id: str) -> Reply:
        if not isinstance(me := who(), Identity):
            return me
        try:
            session = await store.get_session(validation.session_id(session_id))
        except (ToolError, NotFound):
            return {"error": f"no session {session_id!r}"}, 404, NO_STORE
        return await summarize(store, me, session), 200, NO_STORE

    @bp.post("/ui/api/sessions/<session_id>/typing")
    async def api_typing(session_id: str) -> Reply:
        """Body `{"typing": bool}`: the signed-in identity starts (or stops) composing, as the
        MCP tool `set_typing` and the socket's `typing` call do; too many changes are 429."""
        if not isinstance(me := who(), Identity):
            return me
        body = await request.get_json(force=True, silent=True)
        flag = body.get("typing") if isinstance(body, dict) else None
        try:
            reply = await typing.signal(me, session_id, flag)
        except ToolError as e:
            status = TYPING_STATUS.get(e.code, 400)
            message = {
                400: f'Send a JSON object {{"typing": true}} or false: {e.message}',
                403: "Your agent type has no write permission, so no typing signal.",
            }.get(status, e.message)
            headers = {**NO_STORE, "Retry-After": "1"} if status == 429 else NO_STORE
            return {"error": message, "code": e.code}, status, headers
        del reply["session_id"]
        return reply, 200, NO_STORE

    @bp.post("/ui/api/sessions/<session_id>/messages")
    async def api_post(session_id: str) -> Reply:
        """Body `{"content": str, "visibility"?: str}`: the composer's post. The message
        itself reaches the page through its live stream, like everyone else's."""
        if not isinstance(me := who(), Identity):
            return me
        body = await request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return {"error": 'Send a JSON object {"content": "...", "visibility": "public"}.'}, 400, NO_STORE
        try:
            message = await post_message(store, me, session_id, body.get("content"), body.get("visibility"))
        except PostRefused as e:
            return {"error": e.message}, e.status, NO_STORE
        return {"message_id": message.id, "timestamp": message.to_json()["timestamp"]}, 201, NO_STORE

    @bp.get("/ui/api/sessions/<session_id>/messages")
    async def api_messages(session_id: str) -> Reply:
        """`?since_id=N`: up to POLL_PAGE visible messages after N, oldest first."""
        if not isinstance(me := who(), Identity):
            return me
        try:
            sid = validation.session_id(session_id)
            since = validation.optional_id(_int(request.args.get("since_id", "0")), "since_id")
            page = await store.get_messages(
                sid, me, visibilities=VISIBILITIES, since_id=since, limit=POLL_PAGE
            )
        except ToolError as e:
            return {"error": e.message}, 400, NO_STORE
        except NotFound:
            return {"error": f"no session {session_id!r}"}, 404, NO_STORE
        messages = [m.to_json() for m in page.messages]
        return {"messages": messages, "more": len(messages) == POLL_PAGE}, 200, NO_STORE


def _micros(iso: str) -> int:
    when = datetime.fromisoformat(iso)
    if when.tzinfo is None:
        raise ValueError("no time zone")
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ToolError("INVALID_INPUT", "since_id must be a message id") from None
