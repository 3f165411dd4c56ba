"""Hostile tool arguments over a real MCP client: whatever an agent sends, every reply is a
success or a clear error code (never INTERNAL_ERROR, never a stack trace), arguments that the
published input schema forbids are always refused, the daemon stays healthy, and data stored
before the attack is unchanged."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import trio
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.kit.clients import Call, JsonObject
from tests.kit.daemon import Running

CODE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")
SQL_INJECTIONS = [
    "'; DROP TABLE messages; --",
    "' OR '1'='1",
    '" OR ""="',
    "1; DELETE FROM agent_memory WHERE 1=1; --",
    "x') UNION SELECT key, value FROM agent_memory --",
    "session_0123456789abcdef' OR 1=1 --",
    '"text" NEAR("sid" OR *) AND',  # FTS5 query syntax
    "%",
    "_",
    "\\",
]
PATHS = ["../../etc/passwd", "/etc/shadow", "..\\..\\windows\\win.ini", "file:///etc/passwd", "~/.ssh"]
ODD = ["\x00", "\u202e", "\ufeff", "\uffff", "\U0010ffff", "\U0001f600" * 3, "ǅ\u0301", "\u2028"]
HUGE = "A" * 200_000


def nested(depth: int, leaf: Any = "deep") -> Any:
    value = leaf
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


odd_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
strings = st.one_of(
    odd_text,
    st.sampled_from(SQL_INJECTIONS + PATHS + ODD + ["", " ", HUGE]),
    st.from_regex(r"session_[0-9a-f]{16}", fullmatch=True),
)
ints = st.integers() | st.sampled_from([-1, 0, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30])
scalars = st.none() | st.booleans() | ints | st.floats(allow_nan=False, allow_infinity=False) | strings
values = st.one_of(
    st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4)
    ),
    st.builds(nested, st.sampled_from([50, 200])),
    st.builds(lambda n: {f"k{i}": "v" * 300 for i in range(n)}, st.sampled_from([40, 60])),
)


def calls_strategy(schemas: dict[str, JsonObject], tokens: list[str], sids: list[str]) -> Any:
    """Lists of (tool, arguments): each parameter absent, plausible or hostile, plus strays."""

    def one(tool: str) -> Any:
        props = schemas[tool].get("properties", {})
        plausible: dict[str, Any] = {
            "auth_token": st.sampled_from(tokens),
            "session_id": st.sampled_from(sids),
        }
        optional = {name: (plausible[name] | values) if name in plausible else values for name in props}
        extra = st.dictionaries(st.sampled_from(["nope", "__proto__", "auth_token "]), values, max_size=1)
        args = st.fixed_dictionaries({}, optional=optional)
        return st.tuples(st.just(tool), st.builds(lambda a, b: {**a, **b}, args, extra | st.just({})))

    return st.lists(st.sampled_from(sorted(schemas)).flatmap(one), min_size=1, max_size=8)


def check(reply: JsonObject, call: Call) -> None:
    where = f"{call[0]}({json.dumps(call[1])[:300]}) -> {json.dumps(reply)[:300]}"
    if reply.get("success") is True:
        return
    assert reply.get("success") is False, where
    assert CODE.fullmatch(str(reply.get("code"))) and reply["code"] != "INTERNAL_ERROR", where
    assert isinstance(reply.get("error"), str) and "Traceback" not in reply["error"], where
    assert "pydantic" not in reply["error"], where
    if reply["code"] == "INVALID_INPUT":
        assert reply["context"]["field"] in reply["error"], where


async def tool_schemas(running: Running) -> dict[str, JsonObject]:
    def run() -> dict[str, JsonObject]:
        async def go() -> dict[str, JsonObject]:
            async with Client(StreamableHttpTransport(running.mcp_url)) as client:
                return {t.name: t.input_schema for t in await client.list_tools()}

        return asyncio.run(go())

    return await trio.to_thread.run_sync(run)


async def snapshot(running: Running, keeper: str, sid: str) -> list[JsonObject]:
    replies = await running.mcp().calls(
        [
            ("get_messages", {"session_id": sid, "limit": 1000, "auth_token": keeper}),
            ("get_session", {"session_id": sid, "auth_token": keeper}),
            ("get_memory", {"key": "plan", "auth_token": keeper}),
            ("get_memory", {"key": "plan", "session_id": sid, "auth_token": keeper}),
        ]
    )
    assert all(r["success"] for r in replies), replies
    return replies


async def health(running: Running) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"{running.endpoints.http_url}/health")


async def protected_session(running: Running, keeper: str) -> str:
    sid = (await running.mcp().call("create_session", purpose="keep", auth_token=keeper))["session_id"]
    writes: list[Call] = [
        ("add_message", {"session_id": sid, "content": f"m{i}", "visibility": v, "auth_token": keeper})
        for i, v in enumerate(["public", "private", "agent_only", "public"] * 3)
    ]
    writes += [
        ("set_memory", {"key": "plan", "value": {"steps": [1, 2, 3]}, "auth_token": keeper}),
        ("set_memory", {"key": "plan", "value": "scoped", "session_id": sid, "auth_token": keeper}),
    ]
    assert all(r["success"] for r in await running.mcp().calls(writes))
    return str(sid)


async def test_hostile_tool_arguments_get_clear_errors_and_leave_data_intact(running: Running) -> None:
    with trio.fail_after(30):
        keeper = await running.token("keeper", "claude")
        fuzzer = await running.token("fuzzer", "claude")
        admin = await running.token("root", "claude", admin=True, permissions=["read", "write", "admin"])
        sid = await protected_session(running, keeper)
        playground = (await running.mcp().call("create_session", purpose="play", auth_token=fuzzer))[
            "session_id"
        ]
        schemas = await tool_schemas(running)
        before = await snapshot(running, keeper, sid)
    assert len(schemas) >= 18
    tokens = [fuzzer, fuzzer, admin, "", "not-a-token", keeper[:-4] + "AAAA"]
    sids = [playground, "session_0123456789abcdef"]
    seen: set[str] = set()

    validators = {name: Draft202012Validator(schema) for name, schema in schemas.items()}

    async def attack(batch: list[Call]) -> None:
        with trio.fail_after(60):
            replies = (
                await running.mcp().with_headers(**{"X-API-Key": running.secrets["api_key"]}).calls(batch)
            )
        assert len(replies) == len(batch)
        for call, reply in zip(batch, replies, strict=True):
            check(reply, call)
            if not validators[call[0]].is_valid(call[1]):  # the schema is what is enforced
                assert reply["success"] is False, (call, reply)
            seen.add(call[0])

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(batch=calls_strategy(schemas, tokens, sids))
    @example(
        batch=[
            ("add_message", {"session_id": playground, "content": HUGE, "auth_token": fuzzer}),
            (
                "add_message",
                {"session_id": playground, "content": "x", "metadata": nested(200), "auth_token": fuzzer},
            ),
            ("search_context", {"session_id": sid, "query": SQL_INJECTIONS[6], "auth_token": fuzzer}),
            ("get_messages", {"session_id": sid, "since_id": 2**63, "offset": 10**30, "auth_token": fuzzer}),
            ("set_memory", {"key": PATHS[0], "value": nested(200), "expires_in": -1, "auth_token": fuzzer}),
            ("list_memory", {"session_id": "all", "prefix": "%", "limit": 2**63, "auth_token": fuzzer}),
            ("authenticate_agent", {"agent_id": SQL_INJECTIONS[0], "agent_type": "admin"}),
            (
                "search_by_timerange",
                {"session_id": sid, "start_time": "9999-99-99", "end_time": "'", "auth_token": fuzzer},
            ),
        ]
    )
    def property_(batch: list[Call]) -> None:
        trio.from_thread.run(attack, batch)

    await trio.to_thread.run_sync(property_)
    assert len(seen) >= 10, seen  # the batches reached most tools, not one corner
    with trio.fail_after(30):
        assert (await health(running)).status_code == 200
        assert await snapshot(running, keeper, sid) == before
        # The injected agent id was an ordinary name, and the tables are all still there.
        stats = (await health(running)).json()["database"]
        assert stats["status"] == "ok"


async def test_injection_and_path_strings_are_stored_verbatim(running: Running) -> None:
    with trio.fail_after(60):
        token = await running.token("mallory", "claude")
        sid = (await running.mcp().call("create_session", purpose=SQL_INJECTIONS[0], auth_token=token))[
            "session_id"
        ]
        hostile = SQL_INJECTIONS + PATHS
        writes: list[Call] = [
            ("add_message", {"session_id": sid, "content": s, "metadata": {s: s}, "auth_token": token})
            for s in hostile
        ]
        writes += [
            ("set_memory", {"key": s.replace(" ", ""), "value": s, "auth_token": token}) for s in hostile
        ]
        assert all(r["success"] for r in await running.mcp().calls(writes))
        reads: list[Call] = [("get_messages", {"session_id": sid, "limit": 1000, "auth_token": token})]
        reads += [("search_context", {"session_id": sid, "query": s, "auth_token": token}) for s in hostile]
        reads += [("get_memory", {"key": s.replace(" ", ""), "auth_token": token}) for s in hostile]
        reads += [("list_memory", {"prefix": "%", "auth_token": token})]
        messages, *rest = await running.mcp().calls(reads)
    searches, memories, listed = rest[: len(hostile)], rest[len(hostile) : -1], rest[-1]
    assert [m["content"] for m in messages["messages"]] == hostile
    assert [m["metadata"] for m in messages["messages"]] == [{s: s} for s in hostile]
    for query, found in zip(hostile, searches, strict=True):
        assert found["success"], found
        assert query in [r["message"]["content"] for r in found["results"]], query
    assert [m["value"] for m in memories] == hostile
    assert [e["key"] for e in listed["entries"]] == ["%"]  # literal prefix, not a wildcard


async def test_oversized_and_deeply_nested_input_is_refused_cleanly(running: Running) -> None:
    with trio.fail_after(60):
        token = await running.token("mallory", "claude")
        sid = (await running.mcp().call("create_session", purpose="big", auth_token=token))["session_id"]
        huge_meta = {"k": "v" * 10_001}
        replies = await running.mcp().calls(
            [
                ("add_message", {"session_id": sid, "content": "x" * 100_001, "auth_token": token}),
                ("create_session", {"purpose": "p" * 1_001, "auth_token": token}),
                (
                    "add_message",
                    {"session_id": sid, "content": "x", "metadata": huge_meta, "auth_token": token},
                ),
                (
                    "add_message",
                    {
                        "session_id": sid,
                        "content": "x",
                        "metadata": {str(i): i for i in range(51)},
                        "auth_token": token,
                    },
                ),
                ("set_memory", {"key": "big", "value": "v" * 1_000_001, "auth_token": token}),
                ("set_memory", {"key": "k" * 256, "value": 1, "auth_token": token}),
                ("get_messages", {"session_id": sid, "auth_token": token}),
            ]
        )
    codes = [r.get("code") for r in replies[:6]]
    assert codes == ["CONTENT_TOO_LARGE", "CONTENT_TOO_LARGE", "INVALID_METADATA_FORMAT",
                     "INVALID_METADATA_FORMAT", "CONTENT_TOO_LARGE", "INVALID_KEY"]  # fmt: skip
    assert replies[6]["messages"] == []  # nothing partially written
    # A raw request body nested far beyond any parser's patience: a client error, not a crash.
    async with httpx.AsyncClient(timeout=20) as client:
        body = '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ' + "[" * 100_000 + "}"
        raw = await client.post(
            running.mcp_url,
            content=body,
            headers={"content-type": "application/json", "accept": "application/json, text/event-stream"},
        )
    assert 400 <= raw.status_code < 500, raw.text[:300]
    assert (await health(running)).status_code == 200


async def test_deeply_nested_values_are_refused_or_read_back(running: Running) -> None:
    """What set_memory / add_message accept must come back to a standard MCP client, whose
    JSON parser stops at 200 levels: a value nested 198 deep is stored, then unreadable."""
    token = await running.token("mallory", "claude")
    sid = (await running.mcp().call("create_session", purpose="deep", auth_token=token))["session_id"]
    for depth in (150, 198):
        with trio.fail_after(30):
            stored = await running.mcp().calls(
                [
                    ("set_memory", {"key": f"d{depth}", "value": nested(depth), "auth_token": token}),
                    (
                        "add_message",
                        {
                            "session_id": sid,
                            "content": "d",
                            "metadata": {"d": nested(depth)},
                            "auth_token": token,
                        },
                    ),
                ]
            )
            for reply in stored:
                check(reply, ("deep", {}))
            try:
                memory, messages = await running.mcp().calls(
                    [
                        ("get_memory", {"key": f"d{depth}", "auth_token": token}),
                        ("get_messages", {"session_id": sid, "auth_token": token}),
                    ]
                )
            except Exception as e:  # the client could not parse the reply
                raise AssertionError(f"depth {depth} was accepted but cannot be read back: {e}") from None
        if stored[0]["success"]:
            assert memory["value"] == nested(depth)
        if stored[1]["success"]:
            assert messages["messages"][-1]["metadata"] == {"d": nested(depth)}
