"""The UI's routes: login/logout, dashboard, session page (+ post form), health, token API
(the live pages' JSON reads are in `live_api`)."""

from __future__ import annotations

import json
import secrets
from typing import Final

from quart import Blueprint, Response, render_template, request

from scsd import __version__
from scsd.access import validation
from scsd.errors import NotFound, ToolError
from scsd.model import VISIBILITIES, iso_from_micros
from scsd.store import Store, now_micros
from scsd.ui import live_api
from scsd.ui.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SignedIn,
    UiAuth,
    UiDeps,
    clear_session,
    csrf_ok,
    login_csrf_ok,
    new_login_nonce,
)

PAGE_MESSAGES: Final = 500
LOGIN: Final = "/ui/login"


def blueprint(store: Store, deps: UiDeps) -> Blueprint:
    bp = Blueprint("ui", __name__)
    auth = UiAuth(deps)

    async def page(template: str, me: SignedIn, status: int = 200, **context: object) -> Response:
        html = await render_template(template, me=me.identity, csrf=me.csrf, version=__version__, **context)
        return Response(html, status, mimetype="text/html")

    def to_login() -> Response:
        return _see_other(LOGIN)

    async def login_form(error: str | None = None, status: int = 200) -> Response:
        nonce = secrets.token_urlsafe(32)
        html = await render_template("login.html", csrf=nonce, error=error, version=__version__)
        response = Response(html, status, mimetype="text/html")
        new_login_nonce(response, nonce)
        return response

    @bp.get("/ui/login")
    async def login_page() -> Response:
        return await login_form()

    @bp.post("/ui/login")
    async def login() -> Response:
        form = await request.form
        if not login_csrf_ok(form.get(CSRF_FIELD)):
            return await login_form("The form expired; please sign in again.", 403)
        who = auth.sign_in(form.get("key", ""), form.get("agent_id", ""), form.get("agent_type", ""))
        if isinstance(who, str):
            await store.audit("ui_login_failed", form.get("agent_id", "")[:100] or "-", result="bad key")
            return await login_form(who, 401)
        await store.audit("ui_login", who.agent_id, metadata={"agent_type": who.agent_type})
        response = _see_other("/ui/")
        auth.set_session(response, who)
        return response

    @bp.post("/ui/logout")
    async def logout() -> Response | tuple[str, int]:
        me = auth.current()
        if me is not None and not csrf_ok(me, (await request.form).get(CSRF_FIELD)):
            return "CSRF token missing or wrong", 403
        response = _see_other(LOGIN)
        clear_session(response)
        return response

    @bp.get("/ui/")
    async def dashboard() -> Response:
        if (me := auth.current()) is None:
            return to_login()
        sessions = await live_api.summaries(store, me.identity)
        return await page("index.html", me, sessions=sessions, ws_port=deps.ws_port)

    @bp.get("/ui/health")
    async def health_page() -> Response:
        if (me := auth.current()) is None:
            return to_login()
        body, healthy = await deps.health()
        return await page("health.html", me, 200 if healthy else 503, healthy=healthy,
                          report=json.dumps(body, indent=2, ensure_ascii=False))  # fmt: skip

    @bp.get("/ui/sessions/<session_id>")
    async def session_page(session_id: str) -> Response:
        if (me := auth.current()) is None:
            return to_login()
        try:
            sid = validation.session_id(session_id)
            session = await store.get_session(sid)
            shown = await store.get_messages(
                sid, me.identity, visibilities=VISIBILITIES, limit=PAGE_MESSAGES, newest_first=True
            )
        except (ToolError, NotFound):
            return await page("missing.html", me, 404, session_id=session_id)
        messages = [m.to_json() for m in reversed(shown.messages)]
        return await page(
            "session.html",
            me,
            session=session.to_json(),
            messages=messages,
            last_id=messages[-1]["id"] if messages else 0,
            ws_port=deps.ws_port,
            visibilities=live_api.postable(me.identity),
            server_now=iso_from_micros(now_micros()),  # typing indicators expire by the daemon's clock
        )

    @bp.post("/ui/sessions/<session_id>/messages")
    async def post_message(session_id: str) -> Response | tuple[str, int]:
        if (me := auth.current()) is None:
            return to_login()
        form = await request.form
        if not csrf_ok(me, form.get(CSRF_FIELD)):
            return "CSRF token missing or wrong", 403
        try:
            message = await live_api.post_message(
                store, me.identity, session_id, form.get("content", ""), form.get("visibility", "public")
            )
        except live_api.PostRefused as e:
            return e.message, e.status
        # Back at the message, not the top.
        return _see_other(f"/ui/sessions/{message.session_id}#m-{message.id}")

    @bp.get("/ui/api/token")
    async def api_token() -> tuple[dict[str, object], int, dict[str, str]]:
        """A short-lived bearer token for the cookie's identity, for the WebSocket/SSE
        `?token=`. The CSRF header proves the call comes from our own page's script."""
        no_store = {"Cache-Control": "no-store"}
        if (me := auth.current()) is None:
            return {"error": "not signed in"}, 401, no_store
        if not csrf_ok(me, request.headers.get(CSRF_HEADER)):
            return {"error": "CSRF token missing or wrong"}, 403, no_store
        token, expires_at = auth.mint_token(me.identity)
        return {"token": token, "expires_at": expires_at}, 200, no_store

    live_api.add_routes(bp, store, auth, deps.typing)
    return bp


def _see_other(location: str) -> Response:
    return Response("", 303, headers={"Location": location})
