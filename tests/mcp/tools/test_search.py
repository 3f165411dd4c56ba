"""search_context, search_by_sender, search_by_timerange through a real fastmcp client over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import trio

from tests.kit.daemon import Running

MISSING = "session_ffffffffffffffff"
MESSAGE_KEYS = {
    "id", "session_id", "sender", "sender_type", "content", "visibility", "message_type", "metadata",
    "timestamp", "parent_message_id",
}  # fmt: skip


async def _setup(running: Running, *contents: str | tuple[str, str]) -> tuple[str, str, list[int]]:
    """alice's token, a new session, and the ids of `contents` posted by alice in order
    (a (content, visibility) tuple sets the visibility)."""
    token = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="search", auth_token=token))["session_id"]
    calls = []
    for item in contents:
        text, level = item if isinstance(item, tuple) else (item, "public")
        calls.append(
            ("add_message", {"session_id": sid, "content": text, "visibility": level, "auth_token": token})
        )
    replies = await running.mcp().calls(calls) if calls else []
    assert all(r["success"] for r in replies), replies
    return token, sid, [r["message_id"] for r in replies]


def _contents(reply: dict[str, Any]) -> list[str]:
    assert reply["success"], reply
    return [r["message"]["content"] for r in reply["results"]]


async def test_search_context_result_shape(running: Running) -> None:
    long = "FastAPI " + "z" * 200
    with trio.fail_after(30):
        token, sid, ids = await _setup(running, "We deploy the FastAPI service", long, "lunch at noon")
        reply = await running.mcp().call("search_context", session_id=sid, query="FastAPI", auth_token=token)
    assert set(reply) >= {"results", "query", "threshold", "search_scope", "message_count", "search_time_ms"}
    assert reply["query"] == "FastAPI" and reply["threshold"] == 60 and reply["search_scope"] == "all"
    assert reply["cache_hit"] is False and reply["performance_note"]
    assert reply["message_count"] == len(reply["results"]) == 2
    assert {r["message"]["id"] for r in reply["results"]} == {ids[0], ids[1]}
    for result in reply["results"]:
        assert set(result["message"]) == MESSAGE_KEYS
        score = result["score"]
        assert 60 <= score <= 100 and round(score, 2) == score
        expected = "high" if score >= 80 else "medium" if score >= 60 else "low"
        assert result["relevance"] == expected
        content = result["message"]["content"]
        preview = content if len(content) <= 150 else content[:150] + "..."
        assert result["match_preview"] == preview
    scores = [r["score"] for r in reply["results"]]
    assert scores == sorted(scores, reverse=True)


async def test_search_typo_accent_and_japanese(running: Running) -> None:
    with trio.fail_after(30):
        token, sid, ids = await _setup(
            running,
            "We deploy the FastAPI service",
            "Meeting at the café",
            "東京で会議があります",
            "lunch at noon",
        )
        queries = ["FastAPl", "cafe", "CAFÉ", "会議"]
        replies = await running.mcp().calls(
            [("search_context", {"session_id": sid, "query": q, "auth_token": token}) for q in queries]
        )
    typo, accent, upper, japanese = ([r["message"]["id"] for r in reply["results"]] for reply in replies)
    assert typo and typo[0] == ids[0]
    assert accent and accent[0] == ids[1]
    assert upper and upper[0] == ids[1]
    assert japanese == [ids[2]]


async def test_search_metadata_switch(running: Running) -> None:
    with trio.fail_after(30):
        token, sid, _ = await _setup(running)
        mcp = running.mcp()
        added = await mcp.call(
            "add_message",
            session_id=sid,
            content="status update",
            metadata={"ticket": "ZEBRA-42"},
            auth_token=token,
        )
        on, off = await mcp.calls(
            [
                ("search_context", {"session_id": sid, "query": "ZEBRA-42", "auth_token": token}),
                ("search_context", {"session_id": sid, "query": "ZEBRA-42", "search_metadata": False,
                                    "auth_token": token}),
            ]
        )  # fmt: skip
    assert [r["message"]["id"] for r in on["results"]] == [added["message_id"]]
    assert off["success"] and off["results"] == []


async def test_regression_search_scope_only_narrows_and_agent_only_is_same_type(running: Running) -> None:
    with trio.fail_after(40):
        alice, sid, _ = await _setup(
            running, ("kiwi public", "public"), ("kiwi private", "private"), ("kiwi team", "agent_only")
        )
        carol = await running.token("carol", "claude")
        bob = await running.token("bob", "gemini")

        def search(token: str, scope: str = "all") -> tuple[str, dict[str, Any]]:
            return (
                "search_context",
                {"session_id": sid, "query": "kiwi", "search_scope": scope, "auth_token": token},
            )

        replies = await running.mcp().calls(
            [search(alice), search(carol), search(bob), search(alice, "private"), search(bob, "private"),
             search(bob, "agent_only"), search(bob, "admin_only"), search(carol, "agent_only"),
             search(bob, "bogus")]
        )  # fmt: skip
    seen = [sorted(_contents(r)) for r in replies[:-1]]
    assert seen == [
        ["kiwi private", "kiwi public", "kiwi team"],
        ["kiwi public", "kiwi team"],
        ["kiwi public"],
        ["kiwi private"],
        [],
        [],
        [],
        ["kiwi team"],
    ]
    assert replies[-1]["code"] == "INVALID_VISIBILITY"


@pytest.mark.parametrize(
    ("args", "ok"),
    [({"limit": 100}, True), ({"limit": 101}, False), ({"limit": 0}, False), ({"fuzzy_threshold": 0}, True),
     ({"fuzzy_threshold": 100}, True), ({"fuzzy_threshold": 101}, False), ({"fuzzy_threshold": -1}, False),
     ({"query": "q" * 500}, True), ({"query": "q" * 501}, False), ({"query": ""}, False)],
)  # fmt: skip
async def test_search_context_limits(running: Running, args: dict[str, Any], ok: bool) -> None:
    with trio.fail_after(30):
        token, sid, _ = await _setup(running, "some text")
        reply = await running.mcp().call(
            "search_context", **{"session_id": sid, "query": "text", "auth_token": token, **args}
        )
    assert reply["success"] is ok, reply
    if not ok:
        assert reply["code"] in (
            {"INVALID_INPUT", "CONTENT_TOO_LARGE"} if "query" in args else {"INVALID_INPUT"}
        )


async def test_search_threshold_filters_scores(running: Running) -> None:
    with trio.fail_after(30):
        token, sid, ids = await _setup(running, "exact phrase here", "exakt frase hier", "nothing alike")
        reply = await running.mcp().call(
            "search_context", session_id=sid, query="exact phrase", fuzzy_threshold=100, auth_token=token
        )
    assert [r["message"]["id"] for r in reply["results"]] == [ids[0]]
    assert reply["results"][0]["score"] == 100


async def test_search_errors(running: Running) -> None:
    with trio.fail_after(30):
        token, sid, _ = await _setup(running)
        r = await running.mcp().calls(
            [
                ("search_context", {"session_id": MISSING, "query": "x", "auth_token": token}),
                ("search_context", {"session_id": "bad", "query": "x", "auth_token": token}),
                ("search_context", {"session_id": sid, "query": "x"}),
                ("search_by_sender", {"session_id": sid, "sender": "alice"}),
                ("search_by_timerange", {"session_id": sid, "start_time": "2020-01-01T00:00:00Z",
                                         "end_time": "2030-01-01T00:00:00Z"}),
                ("search_by_sender", {"session_id": MISSING, "sender": "a", "auth_token": token}),
            ]
        )  # fmt: skip
    assert r[0]["code"] == r[5]["code"] == "SESSION_NOT_FOUND"
    assert r[1]["code"] == "INVALID_INPUT"
    assert r[2]["code"] == r[3]["code"] == r[4]["code"] == "AUTH_REQUIRED"


async def test_regression_search_returns_each_message_once(running: Running) -> None:
    with trio.fail_after(30):
        token, sid, ids = await _setup(running, *["identical duplicate text"] * 5, "other words")
        reply = await running.mcp().call(
            "search_context", session_id=sid, query="identical duplicate text", auth_token=token
        )
    found = [r["message"]["id"] for r in reply["results"]]
    assert len(found) == len(set(found))
    assert set(found) == set(ids[:5])


async def test_regression_search_sees_every_message_not_only_the_last_1000(running: Running) -> None:
    """The reference searched only the newest 1000 messages of the last 7 days."""
    with trio.fail_after(180):
        token, sid, (needle,) = await _setup(running, "routine status platypus migration")

        async def fill(batch: int) -> None:
            calls = [
                ("add_message", {"session_id": sid, "content": f"routine status line {batch}{i:03d}",
                                 "auth_token": token})
                for i in range(275)
            ]  # fmt: skip
            replies = await running.mcp().calls(calls)
            assert all(r["success"] for r in replies)

        async with trio.open_nursery() as nursery:
            for batch in range(4):
                nursery.start_soon(fill, batch)
        found, shared, typo, by_sender, page = await running.mcp().calls(
            [
                ("search_context", {"session_id": sid, "query": "platypus", "auth_token": token}),
                # Shares trigrams with all 1101 messages: the oldest must still win.
                ("search_context", {"session_id": sid, "query": "status platypus", "auth_token": token}),
                # Misspelt, so no message contains it: found by its rare trigrams, not its age.
                ("search_context", {"session_id": sid, "query": "statos platypos", "auth_token": token}),
                (
                    "search_by_sender",
                    {"session_id": sid, "sender": "alice", "limit": 100, "auth_token": token},
                ),
                ("get_messages", {"session_id": sid, "limit": 1, "auth_token": token}),
            ]
        )
    assert page["total_count"] == 1101
    assert [r["message"]["id"] for r in found["results"]] == [needle]
    assert shared["results"] and shared["results"][0]["message"]["id"] == needle
    assert typo["results"] and typo["results"][0]["message"]["id"] == needle
    assert by_sender["count"] == 100


async def test_search_by_sender(running: Running) -> None:
    with trio.fail_after(40):
        alice, sid, ids = await _setup(running, "a1", ("a-secret", "private"), "a2")
        bob = await running.token("bob", "gemini")
        mcp = running.mcp()
        await mcp.call("add_message", session_id=sid, content="b1", auth_token=bob)
        r = await mcp.calls(
            [
                ("search_by_sender", {"session_id": sid, "sender": "alice", "auth_token": alice}),
                ("search_by_sender", {"session_id": sid, "sender": "alice", "auth_token": bob}),
                ("search_by_sender", {"session_id": sid, "sender": "ali", "auth_token": alice}),
                ("search_by_sender", {"session_id": sid, "sender": "alice", "limit": 1, "auth_token": alice}),
                (
                    "search_by_sender",
                    {"session_id": sid, "sender": "alice", "limit": 100, "auth_token": alice},
                ),
                (
                    "search_by_sender",
                    {"session_id": sid, "sender": "alice", "limit": 101, "auth_token": alice},
                ),
                ("search_by_sender", {"session_id": sid, "sender": "alice", "limit": 0, "auth_token": alice}),
            ]
        )
    own = r[0]
    assert own["sender"] == "alice" and own["count"] == 3
    assert [m["id"] for m in own["messages"]] == list(reversed(ids))  # newest first
    assert set(own["messages"][0]) == MESSAGE_KEYS
    assert [m["content"] for m in r[1]["messages"]] == ["a2", "a1"]  # bob never sees the private one
    assert r[2]["success"] and r[2]["messages"] == []  # exact match, not a prefix
    assert [m["id"] for m in r[3]["messages"]] == [ids[2]]
    assert r[4]["success"]
    assert r[5]["code"] == r[6]["code"] == "INVALID_INPUT"


def _shift(stamp: str, **delta: float) -> str:
    return (datetime.fromisoformat(stamp) + timedelta(**delta)).isoformat().replace("+00:00", "Z")


async def test_search_by_timerange(running: Running) -> None:
    with trio.fail_after(40):
        token, sid, ids = await _setup(running, "t1", "t2", "t3")
        page = await running.mcp().call("get_messages", session_id=sid, auth_token=token)
        t1, t2, t3 = (m["timestamp"] for m in page["messages"])
        plus2 = datetime.fromisoformat(t1).astimezone(timezone(timedelta(hours=2))).isoformat()
        naive = t3.removesuffix("Z")

        def search(start: str, end: str, **extra: Any) -> tuple[str, dict[str, Any]]:
            args = {"session_id": sid, "start_time": start, "end_time": end, "auth_token": token}
            return ("search_by_timerange", {**args, **extra})

        r = await running.mcp().calls(
            [search(t1, t2), search(plus2, naive), search(_shift(t1, microseconds=1), t3), search(t3, t1),
             search("yesterday", t3), search(t1, "2026-13-45T00:00:00Z"), search(t1, t3, limit=1),
             search(t1, t3, limit=200), search(t1, t3, limit=201)]
        )  # fmt: skip
    assert [m["id"] for m in r[0]["messages"]] == ids[:2]  # both bounds inclusive, oldest first
    assert r[0]["count"] == 2 and set(r[0]["timerange"]) == {"start", "end"}
    assert set(r[0]["messages"][0]) == MESSAGE_KEYS
    assert [m["id"] for m in r[1]["messages"]] == ids  # offsets and zone-less (UTC) inputs
    assert [m["id"] for m in r[2]["messages"]] == ids[1:]
    assert r[3]["code"] == r[4]["code"] == r[5]["code"] == "INVALID_DATETIME"
    assert [m["id"] for m in r[6]["messages"]] == ids[:1]
    assert r[7]["success"] and r[7]["count"] == 3
    assert r[8]["code"] == "INVALID_INPUT"


async def test_search_by_timerange_respects_visibility(running: Running) -> None:
    with trio.fail_after(40):
        _, sid, ids = await _setup(running, "open", ("mine", "private"), ("team", "agent_only"))
        bob = await running.token("bob", "gemini")
        reply = await running.mcp().call(
            "search_by_timerange",
            session_id=sid,
            start_time="2000-01-01T00:00:00Z",
            end_time="2100-01-01T00:00:00Z",
            auth_token=bob,
        )
    assert [m["id"] for m in reply["messages"]] == ids[:1]
