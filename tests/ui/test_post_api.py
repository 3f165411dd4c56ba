"""The composer's JSON endpoint, POST /ui/api/sessions/<id>/messages, over plain HTTP against
a real daemon: sign-in and the CSRF header required, the same refusals as the form, and a post
that reaches agents as a human_input message, audited."""

from __future__ import annotations

import trio

from scsd.store import open_store
from tests.kit.daemon import Running
from tests.kit.ui import http_client as client
from tests.kit.ui import in_thread, sign_in, signed_in


async def test_post_endpoint_refuses_what_it_must_and_posts_the_rest(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="posting", auth_token=alice))["session_id"]
    url = f"/ui/api/sessions/{sid}/messages"
    replies: dict[str, tuple[int, object]] = {}

    def run() -> None:
        with client(running) as c:
            replies["anonymous"] = (c.post(url, json={"content": "x"}).status_code, None)
        with client(running) as c:
            sign_in(c, running.secrets["api_key"], "human", "developer")
            replies["no csrf"] = (c.post(url, json={"content": "x"}).status_code, None)
        with signed_in(running, running.secrets["api_key"], "reader", "viewer") as c:
            r = c.post(url, json={"content": "x"})
            replies["read only"] = (r.status_code, r.json()["error"])
        with signed_in(running, running.secrets["api_key"], "human", "developer") as c:
            bad = [("not json", None), ("empty", {"content": "   "}),
                   ("admin_only", {"content": "x", "visibility": "admin_only"}),
                   ("bad visibility", {"content": "x", "visibility": "all"}),
                   ("too long", {"content": "x" * 100_001})]  # fmt: skip
            for name, body in bad:
                r = c.post(url, content=b"[1]") if body is None else c.post(url, json=body)
                replies[name] = (r.status_code, r.json()["error"])
            r = c.post("/ui/api/sessions/session_0000000000000000/messages", json={"content": "x"})
            replies["no session"] = (r.status_code, r.json()["error"])
            r = c.post(url, json={"content": "From the **composer**", "visibility": "private"})
            replies["ok"] = (r.status_code, r.json())
            assert r.headers["cache-control"] == "no-store"

    await in_thread(run)
    assert replies["anonymous"][0] == 401
    assert replies["no csrf"][0] == 403
    assert replies["read only"] == (403, "You may not post: your agent type has no write permission.")
    assert replies["not json"][0] == 400 and "JSON object" in str(replies["not json"][1])
    assert replies["empty"][0] == 400
    assert replies["admin_only"] == (403, "Only admins may post admin_only messages.")
    assert replies["bad visibility"][0] == 400
    assert replies["too long"][0] == 400
    assert replies["no session"] == (404, "No such session.")
    status, body = replies["ok"]
    assert status == 201 and isinstance(body, dict)
    human = await running.token("human", "developer")  # a private message: its sender sees it
    got = await running.mcp().call("get_messages", session_id=sid, auth_token=human)
    assert [
        (m["id"], m["sender"], m["message_type"], m["visibility"], m["content"]) for m in got["messages"]
    ] == [(body["message_id"], "human", "human_input", "private", "From the **composer**")]
    with trio.fail_after(10):
        async with open_store(running.config.database) as store:
            audit = await store.audit_page(10, event_type="message_added")
    assert any(e["metadata"] == {"message_id": body["message_id"], "visibility": "private", "via": "ui"}
               for e in audit.entries)  # fmt: skip
