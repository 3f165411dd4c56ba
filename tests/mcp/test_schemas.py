"""Every tool's published schemas, checked with the official `mcp` SDK's client: each tool
declares a real output schema (its success shape or the error envelope), describes every
parameter and carries truthful annotations; every call's structured result, on success and on
error, validates against that schema with no undeclared key, and a failure is an MCP tool
error (isError) carrying the same envelope as text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import trio
from jsonschema import Draft202012Validator
from mcp_types import CallToolResult, Tool

from tests.kit.clients import Call, McpSdk
from tests.kit.daemon import Running, new_session, post

ENVELOPE: Final = {"success", "error", "code", "recoverable", "suggestions", "severity", "timestamp"}
READ_ONLY: Final = {
    "get_session", "list_sessions", "get_messages", "wait_for_messages", "search_context",
    "search_by_sender", "search_by_timerange", "get_memory", "list_memory", "get_usage_guidance",
    "get_performance_metrics", "get_audit_log",
}  # fmt: skip
DESTRUCTIVE: Final = {"refresh_token", "set_memory", "delete_memory"}


def closed(schema: Any) -> Any:
    """`schema` with every object that lists its properties closed to other keys, so that a
    key the server sends but does not declare fails validation."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def check_result(tool: Tool, call: Call, result: CallToolResult) -> dict[str, Any]:
    where = f"{call[0]}({json.dumps(call[1])[:200]})"
    body = result.structured_content
    assert isinstance(body, dict), where
    assert tool.output_schema is not None
    errors = sorted(Draft202012Validator(closed(tool.output_schema)).iter_errors(body), key=str)
    assert not errors, f"{where}: {errors[0]}"
    assert result.is_error is (body["success"] is False), where
    assert [json.loads(getattr(c, "text", "")) for c in result.content] == [body], where
    if result.is_error:
        assert body.keys() >= ENVELOPE, where
    return body


def check_listing(tool: Tool) -> None:
    schema = tool.output_schema
    assert schema is not None and schema["type"] == "object", tool.name
    success, failure = schema["anyOf"]
    assert success["properties"]["success"]["const"] is True, tool.name
    assert len(success["properties"]) > 1, tool.name  # the real result keys, not a bare object
    assert failure["properties"]["success"]["const"] is False and set(failure["required"]) == ENVELOPE
    params = tool.input_schema
    assert params["additionalProperties"] is False, tool.name
    for name, prop in params["properties"].items():
        assert prop.get("description"), f"{tool.name}.{name} has no description"
    hints = tool.annotations
    assert hints is not None, tool.name
    assert hints.read_only_hint is (tool.name in READ_ONLY), tool.name
    assert hints.destructive_hint is (tool.name in DESTRUCTIVE), tool.name
    assert hints.open_world_hint is False and hints.idempotent_hint is not None, tool.name


def calls(token: str, admin: str, sid: str, message_id: int) -> list[tuple[Call, bool]]:
    """(call, succeeds) for every tool: one success and at least one failure each."""
    t, a = {"auth_token": token}, {"auth_token": admin}
    s = {"session_id": sid, **t}
    now = "2030-01-01T00:00:00Z"
    good: list[Call] = [
        ("create_session", {"purpose": "schemas", "metadata": {"k": 1}, **t}),
        ("get_session", s),
        ("list_sessions", {"limit": 5, **t}),
        ("add_message", {"content": "hello", "parent_message_id": message_id, **s}),
        ("get_messages", {"since_id": 0, **s}),
        ("wait_for_messages", {"since_id": 0, "timeout_seconds": 1, **s}),
        ("search_context", {"query": "hello", **s}),
        ("search_by_sender", {"sender": "alice", **s}),
        ("search_by_timerange", {"start_time": "2000-01-01T00:00:00Z", "end_time": now, **s}),
        ("set_memory", {"key": "plan", "value": [1, {"two": None}], "expires_in": "3600", **t}),
        ("get_memory", {"key": "plan", **t}),
        ("list_memory", {"session_id": "all", **t}),
        ("delete_memory", {"key": "plan", **t}),
        ("set_typing", s),
        ("get_usage_guidance", {"guidance_type": "security"}),
        ("get_performance_metrics", a),
        ("get_audit_log", {"limit": 3, **a}),
        ("refresh_token", {"current_token": admin}),
    ]
    bad: list[Call] = [
        ("authenticate_agent", {"agent_id": 5, "agent_type": "claude"}),
        ("refresh_token", {"current_token": 42}),
        ("create_session", t),
        ("get_session", {"session_id": "session_ffffffffffffffff", **t}),
        ("list_sessions", {"limit": True, **t}),
        ("add_message", {"content": 123, **s}),
        ("get_messages", {"limit": "many", **s}),
        ("wait_for_messages", {"since_id": -1, **s}),
        ("search_context", {"query": "x", "fuzzy_threshold": 101, **s}),
        ("search_by_sender", {"sender": "alice", "limit": 0, **s}),
        ("search_by_timerange", {"start_time": "yesterday", "end_time": now, **s}),
        ("set_memory", {"key": "k", "value": 1, "expires_in": 1.5, **t}),
        ("get_memory", {"key": "missing", **t}),
        ("list_memory", {"limit": 1000, **t}),
        ("delete_memory", {"key": "missing", **t}),
        ("set_typing", {"typing": "maybe", **s}),
        ("get_usage_guidance", {"guidance_type": "everything"}),
        ("get_performance_metrics", t),  # not an admin
        ("get_audit_log", {"nope": 1, **a}),
    ]
    return [(c, True) for c in good] + [(c, False) for c in bad]


async def test_every_tool_declares_its_schemas_and_every_result_matches_them(running: Running) -> None:
    with trio.fail_after(90):
        token = await running.token("alice")
        admin = await running.token("root", admin=True, permissions=["read", "write", "admin"])
        sid = await new_session(running, token)
        message_id = await post(running, token, sid, "hello world")
        cases = calls(token, admin, sid, message_id)
        sdk = McpSdk(running.mcp_url, {"X-API-Key": running.secrets["api_key"]})
        first: list[Call] = [("authenticate_agent", {"agent_id": "bob", "agent_type": "gemini"})]
        tools, results = await sdk.session(first + [call for call, _ in cases])
    by_name: Mapping[str, Tool] = {t.name: t for t in tools}
    assert len(by_name) == 19
    for tool in tools:
        check_listing(tool)
    assert check_result(by_name["authenticate_agent"], first[0], results[0])["success"] is True
    for (call, succeeds), result in zip(cases, results[1:], strict=True):
        body = check_result(by_name[call[0]], call, result)
        assert body["success"] is succeeds, (call, body)
    covered = {call[0] for (call, ok), _ in zip(cases, results[1:], strict=True) if not ok}
    assert covered == set(by_name), "every tool's failure shape was exercised"
