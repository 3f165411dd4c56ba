"""The Web UI over plain HTTP: sign-in, cookies, CSRF, the token API, visibility on pages."""

from __future__ import annotations

import httpx
import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from tests.kit.clients import next_event
from tests.kit.daemon import Running
from tests.kit.ui import csrf_of, http_client, in_thread, sign_in


async def test_pages_need_sign_in_and_a_wrong_key_is_refused(running: Running) -> None:
    def run() -> None:
        with http_client(running) as c:
            for path in ("/ui/", "/ui/health", "/ui/sessions/session_0000000000000000"):
                r = c.get(path)
                assert r.status_code == 303 and r.headers["location"] == "/ui/login", path
            r = c.get("/ui/api/token")
            assert r.status_code == 401
            r = sign_in(c, "not-a-key", "mallory")
            assert r.status_code == 401 and "neither the admin key" in r.text
            assert "scsd_ui=" not in r.headers.get("set-cookie", "")
            assert c.get("/ui/").status_code == 303

    await in_thread(run)


async def test_agent_key_signs_in_as_agent_never_admin_and_cookie_is_strict(running: Running) -> None:
    def run() -> None:
        with http_client(running) as c:
            r = sign_in(c, running.secrets["api_key"], "alice", "claude")
            assert r.status_code == 303 and r.headers["location"] == "/ui/"
            cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("scsd_ui=")]
            assert cookie, r.headers
            assert "HttpOnly" in cookie[0] and "SameSite=Strict" in cookie[0] and "Path=/;" in cookie[0] + ";"
            page = c.get("/ui/")
            assert page.status_code == 200 and "alice (claude)" in page.text and ", admin" not in page.text
            # An agent that names itself "admin" with the agent key is still not an admin.
        with http_client(running) as c:
            sign_in(c, running.secrets["api_key"], "admin", "admin")
            assert ", admin)" not in c.get("/ui/").text
            genuine = c.cookies["scsd_ui"]
            body, _, signature = genuine.rpartition(".")
            forged = f"{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
        with http_client(running) as other:
            assert other.get("/ui/", headers={"Cookie": f"scsd_ui={genuine}"}).status_code == 200
            assert other.get("/ui/", headers={"Cookie": f"scsd_ui={forged}"}).status_code == 303
        with http_client(running) as c:
            sign_in(c, running.secrets["admin_key"])
            assert "admin (admin, admin)" in c.get("/ui/").text

    await in_thread(run)


async def test_login_and_forms_need_the_csrf_token(running: Running) -> None:
    token = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="p", auth_token=token))["session_id"]

    def run() -> None:
        with http_client(running) as c:
            c.get("/ui/login")
            r = c.post("/ui/login", data={"key": running.secrets["admin_key"]})
            assert r.status_code == 403 and "scsd_ui=" not in r.headers.get("set-cookie", "")
            sign_in(c, running.secrets["api_key"], "bob")
            csrf = csrf_of(c.get(f"/ui/sessions/{sid}").text)
            r = c.post(f"/ui/sessions/{sid}/messages", data={"content": "hi", "visibility": "public"})
            assert r.status_code == 403
            r = c.post(f"/ui/sessions/{sid}/messages", data={"content": "hi", "csrf_token": "x" * 43})
            assert r.status_code == 403
            assert c.get("/ui/api/token").status_code == 403
            assert c.get("/ui/api/token", headers={"X-CSRF-Token": "nope"}).status_code == 403
            r = c.post(f"/ui/sessions/{sid}/messages", data={"content": "posted <b>", "csrf_token": csrf})
            assert r.status_code == 303
            page = c.get(f"/ui/sessions/{sid}").text
            assert "posted &lt;b&gt;" in page and ">bob<" in page
            r = c.post(f"/ui/sessions/{sid}/messages",
                       data={"content": "x", "csrf_token": csrf, "visibility": "admin_only"})  # fmt: skip
            assert r.status_code == 403
            assert c.post("/ui/logout", data={}).status_code == 403
            r = c.post("/ui/logout", data={"csrf_token": csrf})
            assert r.status_code == 303 and r.headers["location"] == "/ui/login"
            assert c.get("/ui/").status_code == 303

    await in_thread(run)
    reply = await running.mcp().call("get_messages", session_id=sid, auth_token=token)
    assert [(m["sender"], m["content"]) for m in reply["messages"]] == [("bob", "posted <b>")]


async def test_token_api_mints_a_short_lived_token_for_the_cookie_identity(running: Running) -> None:
    def run() -> dict[str, object]:
        with http_client(running) as c:
            sign_in(c, running.secrets["api_key"], "carol", "generic")
            csrf = csrf_of(c.get("/ui/").text)
            r = c.get("/ui/api/token", headers={"X-CSRF-Token": csrf})
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
            body: dict[str, object] = r.json()
            return body

    body = await in_thread(run)
    reply = await running.mcp().call("get_session", session_id="session_0000000000000000",
                                     auth_token=str(body["token"]))  # fmt: skip
    assert reply["code"] == "SESSION_NOT_FOUND"  # the token authenticates
    write = await running.mcp().call("create_session", purpose="p", auth_token=str(body["token"]))
    assert write["code"] == "PERMISSION_DENIED"  # generic: read only
    assert isinstance(body["expires_at"], int)


async def test_session_page_shows_only_what_the_signed_in_agent_may_see(running: Running) -> None:
    alice = await running.token("alice")
    mcp = running.mcp()
    sid = (await mcp.call("create_session", purpose="vis", auth_token=alice))["session_id"]
    posts = [("pub-msg", "public"), ("alice-secret", "private"), ("claude-only", "agent_only")]
    for content, visibility in posts:
        assert (await mcp.call("add_message", session_id=sid, content=content, visibility=visibility,
                               auth_token=alice))["success"]  # fmt: skip

    def page(key: str, agent_id: str, agent_type: str) -> str:
        with http_client(running) as c:
            sign_in(c, key, agent_id, agent_type)
            r = c.get(f"/ui/sessions/{sid}")
            assert r.status_code == 200
            return r.text

    bob = await in_thread(lambda: page(running.secrets["api_key"], "bob", "gemini"))
    assert "pub-msg" in bob and "alice-secret" not in bob and "claude-only" not in bob
    dave = await in_thread(lambda: page(running.secrets["api_key"], "dave", "claude"))
    assert "claude-only" in dave and "alice-secret" not in dave
    admin = await in_thread(lambda: page(running.secrets["admin_key"], "", ""))
    assert "alice-secret" in admin and "claude-only" in admin


async def test_health_page_and_missing_session(running: Running) -> None:
    def run() -> None:
        with http_client(running) as c:
            sign_in(c, running.secrets["api_key"], "alice")
            r = c.get("/ui/health")
            assert r.status_code == 200 and 'id="health-status" class="ok"' in r.text
            assert c.get("/ui/sessions/session_0000000000000000").status_code == 404
            assert c.get("/ui/sessions/..%2f").status_code == 404

    await in_thread(run)


async def test_websocket_and_sse_accept_the_ui_cookie(running: Running) -> None:
    """SPEC §4: the live endpoints take the UI's sign-in cookie as credentials — from the UI's
    own origin; a foreign page's Origin is refused even with the cookie."""
    token = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="cookie", auth_token=token))["session_id"]

    def cookie_of_signed_in_bob() -> str:
        with http_client(running) as c:
            sign_in(c, running.secrets["api_key"], "bob", "claude")
            return str(c.cookies["scsd_ui"])

    cookie = await in_thread(cookie_of_signed_in_bob)
    origin = running.endpoints.http_url
    headers = [("Cookie", f"scsd_ui={cookie}"), ("Origin", origin)]
    with trio.fail_after(30):
        async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}", extra_headers=headers) as ws:
            connected = await next_event(ws, "connected")
            assert connected["data"]["agent_id"] == "bob"
            await next_event(ws, "subscribed")
        with pytest.raises(ConnectionRejected) as caught:
            foreign = [("Cookie", f"scsd_ui={cookie}"), ("Origin", "http://evil.example")]
            async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}", extra_headers=foreign):
                pass
        assert caught.value.status_code == 403
        with pytest.raises(ConnectionRejected) as caught:
            forged = [("Cookie", f"scsd_ui={cookie[:-2]}xx"), ("Origin", origin)]
            async with open_websocket_url(f"{running.endpoints.ws_url}/ws/{sid}", extra_headers=forged):
                pass
        assert caught.value.status_code == 401
    await running.mcp().call("add_message", session_id=sid, content="via cookie", auth_token=token)

    def first_sse_message() -> tuple[int, str]:
        url = f"{running.endpoints.http_url}/ui/sessions/{sid}/events?since_id=0"
        with httpx.stream("GET", url, headers={"Cookie": f"scsd_ui={cookie}"}, timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("data:") and "via cookie" in line:
                    return r.status_code, line
        raise AssertionError("stream ended without the message")

    status, line = await in_thread(first_sse_message)
    assert status == 200 and '"sender": "alice"' in line
