"""The memory, audit and http_client set-up pages over plain HTTP against a real daemon: who sees
whose memory, filters, delete with CSRF, the admin-only audit log and its paging, and a
token minted on the http_client page that a real MCP http_client then uses."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from scsd.ui.memory_page import countdown
from tests.kit.cli import server_entry
from tests.kit.clients import McpHttp
from tests.kit.daemon import Running
from tests.kit.ui import csrf_of, http_client, in_thread, sign_in

KEYS = re.compile(r'class="memory-key" href="[^"]*"><code>([^<]*)</code>')


def keys_on(page: str) -> list[str]:
    return [html.unescape(k) for k in KEYS.findall(page)]


async def remember(running: Running, token: str, key: str, value: Any, **extra: Any) -> None:
    reply = await running.mcp().call("set_memory", key=key, value=value, auth_token=token, **extra)
    assert reply["success"], reply


async def memory_of(running: Running, token: str, key: str, session_id: str | None = None) -> dict[str, Any]:
    return await running.mcp().call("get_memory", key=key, session_id=session_id, auth_token=token)


async def two_agents(running: Running) -> tuple[str, str, str]:
    """alice (global, session-scoped and expiring entries) and bob (one secret); returns
    alice's token, bob's token and alice's session id."""
    alice, bob = await running.token("alice"), await running.token("bob")
    sid = (await running.mcp().call("create_session", purpose="mem", auth_token=alice))["session_id"]
    await remember(running, alice, "Project.Status", {"phase": "beta", "tags": ["a", "b"]})
    await remember(running, alice, "notes", "plain text")
    await remember(running, alice, "plan.step", 3, session_id=sid)
    await remember(running, alice, "soon", True, expires_in=300)
    await remember(running, bob, "bob.secret", "not for alice")
    return alice, bob, sid


def test_countdown_text() -> None:
    assert countdown(252) == "expires in 4m 12s"
    assert countdown(251.2) == "expires in 4m 12s"  # rounds up: "expired" only once it is
    assert countdown(90_061) == "expires in 1d 1h"
    assert countdown(3_600) == "expires in 1h 0m"
    assert countdown(5) == "expires in 5s"
    assert countdown(0) == countdown(-3) == "expired"


async def test_non_admin_sees_only_its_own_memory(running: Running) -> None:
    await two_agents(running)

    def run() -> None:
        with http_client(running) as c:
            sign_in(c, running.secrets["api_key"], "alice", "claude")
            r = c.get("/ui/memory")
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
            assert sorted(keys_on(r.text)) == ["Project.Status", "notes", "plan.step", "soon"]
            assert "bob.secret" not in r.text and 'id="f-agent"' not in r.text  # no agent picker
            assert "expires in 4m" in r.text or "expires in 5m" in r.text
            # Asking for another agent's memory, list or entry, is refused, not quietly narrowed.
            for path in ("/ui/memory?agent_id=bob", "/ui/memory/entry?agent_id=bob&key=bob.secret"):
                r = c.get(path)
                assert r.status_code == 403 and "only their own memory" in r.text, path
                assert "not for alice" not in r.text
            r = c.get("/ui/memory/entry?key=Project.Status")
            assert r.status_code == 200
            value = re.search(r'<pre class="value" id="entry-value">(.*?)</pre>', r.text, re.S)
            assert value and json.loads(html.unescape(value.group(1))) == {
                "phase": "beta",
                "tags": ["a", "b"],
            }
            assert '"phase": "beta"' in html.unescape(value.group(1))  # pretty-printed
            assert c.get("/ui/memory/entry?key=nope").status_code == 404
            assert c.get("/ui/memory/entry?key=notes&session_id=bad").status_code == 404
            # Audit is not in a non-admin's nav.
            assert 'href="/ui/audit"' not in r.text and 'href="/ui/memory"' in r.text

    await in_thread(run)


async def test_admin_picks_an_agent_and_filters_narrow(running: Running) -> None:
    _, _, sid = await two_agents(running)
    other = (await running.mcp().call("create_session", purpose="other",
                                      auth_token=await running.token("alice")))["session_id"]  # fmt: skip
    await remember(running, await running.token("alice"), "plan.other", 1, session_id=other)

    def run() -> None:
        with http_client(running) as c:
            sign_in(c, running.secrets["admin_key"])

            def keys(query: str, status: int = 200) -> list[str]:
                r = c.get(f"/ui/memory?{query}")
                assert r.status_code == status, (query, r.text)
                return sorted(keys_on(r.text))

            page = c.get("/ui/memory").text
            assert '<option value="alice"' in page and '<option value="bob"' in page
            assert keys("") == []  # the admin's own memory: empty
            assert keys("agent_id=bob") == ["bob.secret"]
            alice_all = ["Project.Status", "notes", "plan.other", "plan.step", "soon"]
            assert keys("agent_id=alice") == alice_all
            assert keys("agent_id=alice&scope=global") == ["Project.Status", "notes", "soon"]
            assert keys("agent_id=alice&scope=session") == ["plan.other", "plan.step"]
            assert keys(f"agent_id=alice&scope=session&session_id={sid}") == ["plan.step"]
            assert keys(f"agent_id=alice&scope=global&session_id={sid}") == []  # filters AND
            assert keys("agent_id=alice&key=status") == ["Project.Status"]  # contains, any case
            assert keys("agent_id=alice&key=plan.&match=prefix") == ["plan.other", "plan.step"]
            assert keys("agent_id=alice&key=tep&match=prefix") == []
            assert keys("agent_id=alice&key=%25") == []  # literal, not a wildcard
            assert keys("agent_id=alice&session_id=nonsense", 400) == []
            r = c.get("/ui/memory/entry?agent_id=bob&key=bob.secret")
            assert r.status_code == 200 and "not for alice" in r.text
            assert 'href="/ui/audit"' in r.text  # admins get the audit page in the nav

    await in_thread(run)


async def test_delete_needs_csrf_and_permission(running: Running) -> None:
    alice, bob, sid = await two_agents(running)

    def run() -> None:
        with http_client(running) as c:
            sign_in(c, running.secrets["api_key"], "alice", "claude")
            page = c.get("/ui/memory").text
            csrf = csrf_of(page)
            assert page.count('action="/ui/memory/delete"') == 4
            form = {"agent_id": "alice", "key": "plan.step", "session_id": sid, "return": "scope=session"}
            assert c.post("/ui/memory/delete", data=form).status_code == 403
            assert c.post("/ui/memory/delete", data={**form, "csrf_token": "x" * 43}).status_code == 403
            r = c.post("/ui/memory/delete", data={**form, "csrf_token": csrf})
            assert r.status_code == 303 and r.headers["location"] == "/ui/memory?scope=session"
            again = c.post("/ui/memory/delete", data={**form, "csrf_token": csrf})
            assert again.status_code == 404
            theirs = {"agent_id": "bob", "key": "bob.secret", "csrf_token": csrf}
            assert c.post("/ui/memory/delete", data=theirs).status_code == 403
        with http_client(running) as c:  # read-only: no button, and the POST is refused
            sign_in(c, running.secrets["api_key"], "alice", "generic")
            page = c.get("/ui/memory").text
            assert "notes" in keys_on(page) and 'action="/ui/memory/delete"' not in page
            r = c.post("/ui/memory/delete", data={"key": "notes", "csrf_token": csrf_of(page)})
            assert r.status_code == 403 and "no write permission" in r.text
        with http_client(running) as c:  # an admin may delete anyone's
            sign_in(c, running.secrets["admin_key"])
            csrf = csrf_of(c.get("/ui/memory?agent_id=bob").text)
            r = c.post("/ui/memory/delete", data={"agent_id": "bob", "key": "bob.secret", "csrf_token": csrf,
                                                  "return": "agent_id=bob&bogus=1"})  # fmt: skip
            assert r.status_code == 303 and r.headers["location"] == "/ui/memory?agent_id=bob"

    await in_thread(run)
    assert (await memory_of(running, alice, "plan.step", sid))["code"] == "MEMORY_NOT_FOUND"
    assert (await memory_of(running, alice, "notes"))["success"]
    assert (await memory_of(running, bob, "bob.secret"))["code"] == "MEMORY_NOT_FOUND"
    admin = await running.token("root", "admin", admin=True, permissions=["read", "admin"])
    log = await running.mcp().call("get_audit_log", agent_id="admin", auth_token=admin)
    deleted = [e for e in log["entries"] if e["event_type"] == "memory_deleted"]
    assert [(e["resource"], e["metadata"]) for e in deleted] == [
        ("bob.secret", {"owner": "bob", "via": "ui"})
    ]


async def test_memory_xss_payloads_are_escaped(running: Running) -> None:
    evil = await running.token("<b>mallory</b>")
    key = "<img/src=x/onerror=alert(1)>"
    await remember(running, evil, key, {"<script>": "</pre><script>alert(2)</script>"})

    def run() -> str:
        with http_client(running) as c:
            sign_in(c, running.secrets["admin_key"])
            page = c.get("/ui/memory", params={"agent_id": "<b>mallory</b>"}).text
            assert keys_on(page) == [key]
            entry = c.get("/ui/memory/entry", params={"agent_id": "<b>mallory</b>", "key": key}).text
            return page + entry

    both = await in_thread(run)
    assert "<img" not in both and "<script>" not in both and "<b>mallory" not in both
    assert "&lt;img/src=x/onerror=alert(1)&gt;" in both and "&lt;/pre&gt;&lt;script&gt;" in both


async def test_audit_page_is_for_admins_and_filters_and_pages(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="audited", auth_token=alice))["session_id"]
    writes = [("set_memory", {"key": f"k{i}", "value": i, "session_id": sid, "auth_token": alice})
              for i in range(60)]  # fmt: skip
    assert all(r["success"] for r in await running.mcp().calls(writes))
    await running.token("carol", "gemini")  # another agent's jwt_token_generated row

    def run() -> None:
        with http_client(running) as c:
            sign_in(c, running.secrets["api_key"], "alice", "claude")
            r = c.get("/ui/audit")
            assert r.status_code == 403 and "admin key" in r.text and "k59" not in r.text
        with http_client(running) as c:
            sign_in(c, running.secrets["admin_key"])
            first = c.get("/ui/audit")
            assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
            ids = row_ids(first.text)
            assert len(ids) == 50 and ids == sorted(ids, reverse=True)
            assert 'id="newer"' not in first.text
            seen = list(ids)
            page = first.text
            while (older := link(page, "older")) is not None:
                page = c.get(older).text
                seen += row_ids(page)
            assert seen == sorted(set(seen), reverse=True) and seen[-1] == 1  # every row once, in order
            back = c.get(link(page, "newer") or "").text
            assert row_ids(back) and min(row_ids(back)) > max(row_ids(page))
            mem = c.get("/ui/audit", params={"event_type": "memory_set", "agent_id": "alice"}).text
            assert len(row_ids(mem)) == 50 and set(cells(mem, "event")) == {"memory_set"}
            assert set(cells(mem, "agent")) == {"alice"}
            older = link(mem, "older")
            assert older and "event_type=memory_set" in older and "agent_id=alice" in older
            assert len(row_ids(c.get(older).text)) == 10
            by_session = c.get("/ui/audit", params={"session_id": sid}).text
            assert set(cells(by_session, "event")) == {"memory_set"}
            oldest = cells(c.get(link(by_session, "older") or "").text, "event")
            assert oldest[-1] == "session_created" and len(oldest) == 11
            carol = c.get("/ui/audit", params={"agent_id": "carol"}).text
            assert cells(carol, "event") == ["jwt_token_generated"]
            assert "&#34;agent_type&#34;: &#34;gemini&#34;" in carol  # metadata as escaped JSON text
            assert 'id="no-audit"' in c.get("/ui/audit", params={"agent_id": "nobody"}).text
            assert c.get("/ui/audit", params={"before": "x", "after": "-1"}).status_code == 200

    await in_thread(run)


def row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="audit-row" data-id="(\d+)">', page)]


def cells(page: str, kind: str) -> list[str]:
    return [
        html.unescape(v) for v in re.findall(rf'<td data-label="[^"]*" class="{kind}">([^<]*)</td>', page)
    ]


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" id="{rel}"', page)
    return html.unescape(found.group(1)) if found else None


def config_blocks(page: str) -> dict[str, str]:
    found = re.findall(r'<pre id="cfg-([a-z-]+-\d)" class="config" tabindex="0">(.*?)</pre>', page, re.S)
    return {name: html.unescape(text) for name, text in found}


async def test_clients_page_mints_a_token_that_works(running: Running) -> None:
    def run() -> tuple[dict[str, str], httpx.Headers]:
        with http_client(running) as c:
            sign_in(c, running.secrets["api_key"], "cfg-agent", "claude")
            r = c.get("/ui/clients")
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
            blocks = config_blocks(r.text)
            assert len(blocks) == 8  # Claude Code has two: the command and the JSON
            assert running.mcp_url in r.text and "Bearer YOUR_TOKEN" in blocks["generic-1"]
            assert running.secrets["api_key"] not in r.text and "Bearer ey" not in r.text
            assert c.post("/ui/clients", data={}).status_code == 403
            minted = c.post("/ui/clients", data={"csrf_token": csrf_of(r.text)})
            assert minted.status_code == 200 and minted.headers["cache-control"] == "no-store"
            assert running.secrets["admin_key"] not in minted.text
            return config_blocks(minted.text), minted.headers

    blocks, _ = await in_thread(run)
    generic = server_entry("generic", blocks["generic-1"])
    assert generic["url"] == running.mcp_url
    assert generic["headers"]["X-API-Key"] == running.secrets["api_key"]  # as the CLI prints it
    mcp = McpHttp(generic["url"], generic["headers"])
    created = await mcp.call("create_session", purpose="set up in the browser")
    assert created["success"] and created["created_by"] == "cfg-agent", created
    # Every http_client's block parses as the CLI's does, and carries the same token.
    token = generic["headers"]["Authorization"]
    claude = server_entry("claude-code", blocks["claude-code-1"] + "\n\n" + blocks["claude-code-2"])
    for name, server in [("claude-code", claude), *[(n, server_entry(n, blocks[f"{n}-1"]))
                                                    for n in ("cursor", "vscode", "gemini")]]:  # fmt: skip
        assert server["url"] == running.mcp_url and server["headers"]["Authorization"] == token, name
    for name in ("claude-desktop", "codex"):
        args = server_entry(name, blocks[f"{name}-1"])["args"]
        assert args[args.index("stdio") :][:5] == [
            "stdio",
            "--agent-id",
            "cfg-agent",
            "--agent-type",
            "claude",
        ]
        assert "Authorization" not in blocks[f"{name}-1"]
    # Without the header the same call is refused: the minted token is what authenticated.
    assert (await McpHttp(generic["url"]).call("create_session", purpose="x"))["code"] == "AUTH_REQUIRED"


async def test_admin_gets_an_admin_token_but_never_a_key(running: Running) -> None:
    def run() -> str:
        with http_client(running) as c:
            sign_in(c, running.secrets["admin_key"], "ops")
            r = c.post("/ui/clients", data={"csrf_token": csrf_of(c.get("/ui/clients").text)})
            assert r.status_code == 200
            assert running.secrets["admin_key"] not in r.text and running.secrets["api_key"] not in r.text
            assert "admin</strong> permission" in r.text
            return config_blocks(r.text)["cursor-1"]

    cursor = server_entry("cursor", await in_thread(run))
    assert set(cursor["headers"]) == {"Authorization"}
    reply = await McpHttp(cursor["url"], cursor["headers"]).call("get_audit_log", limit=5)
    assert reply["success"], reply  # an admin-only tool
    assert any(e["event_type"] == "jwt_token_generated" and e["metadata"].get("via") == "ui"
               for e in reply["entries"])  # fmt: skip
