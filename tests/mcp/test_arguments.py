"""Arguments of the wrong type or shape, through a real MCP client: each gets the error
envelope with INVALID_INPUT (or the reference's more specific code) naming the argument and
what it takes, never pydantic's text; booleans are not numbers; JSON's 5.0 is the integer 5.
And `describe`, the words those messages use for a schema."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from scsd.mcp.arguments import Arguments, describe
from tests.kit.daemon import Running, new_session


async def test_wrong_types_get_the_envelope_naming_the_argument(running: Running) -> None:
    with trio.fail_after(60):
        token = await running.token("alice")
        sid = await new_session(running, token)
        t, s = {"auth_token": token}, {"session_id": sid, "auth_token": token}
        ttl = {"key": "k", "value": 1, **t}
        bad, fmt, val = "INVALID_INPUT", "INVALID_TTL_FORMAT", "INVALID_TTL_VALUE"
        cases: list[tuple[str, dict[str, Any], str, str]] = [
            ("add_message", {"content": 123, **s}, bad, "content"),
            ("get_messages", {"limit": "many", **s}, bad, "limit"),
            ("get_messages", {"limit": True, **s}, bad, "limit"),
            ("get_messages", {"since_id": 1.5, **s}, bad, "since_id"),
            ("create_session", t, bad, "purpose"),
            ("create_session", {"purpose": "p", "metadata": [1], **t}, "INVALID_METADATA_FORMAT", "metadata"),
            ("add_message", {"content": "x", "visibility": "all", **s}, "INVALID_VISIBILITY", "visibility"),
            ("set_memory", {"expires_in": 1.5, **ttl}, fmt, "expires_in"),
            ("set_memory", {"expires_in": True, **ttl}, fmt, "expires_in"),
            ("set_memory", {"expires_in": "soon", **ttl}, fmt, "expires_in"),
            ("set_memory", {"expires_in": -1, **ttl}, val, "expires_in"),
            ("set_memory", {"expires_in": 10**9, **ttl}, val, "expires_in"),
            ("set_memory", {"key": 7, "value": 1, **t}, "INVALID_KEY", "key"),
            ("set_typing", {"typing": 1, **s}, bad, "typing"),
            ("wait_for_messages", {"since_id": 0, "timeout_seconds": False, **s}, bad, "timeout_seconds"),
            ("get_usage_guidance", {"guidance_type": 3}, "INVALID_GUIDANCE_TYPE", "guidance_type"),
            (
                "search_by_timerange",
                {"start_time": 0, "end_time": "x", **s},
                "INVALID_DATETIME",
                "start_time",
            ),
            ("get_session", {"sessionId": sid, **t}, bad, "sessionId"),
        ]
        replies = await running.mcp().calls([(tool, args) for tool, args, _, _ in cases])
    for (tool, args, code, field), reply in zip(cases, replies, strict=True):
        where = (tool, args, reply)
        assert reply["success"] is False and reply["code"] == code, where
        assert reply["context"]["field"] == field and field in reply["error"], where
        assert reply["suggestions"] and reply["recoverable"] is True, where
        assert "pydantic" not in reply["error"] and "validation error" not in reply["error"], where


async def test_the_messages_say_what_is_expected(running: Running) -> None:
    with trio.fail_after(60):
        token = await running.token("alice")
        sid = await new_session(running, token)
        s = {"session_id": sid, "auth_token": token}
        limit, content, missing, unknown = await running.mcp().calls(
            [
                ("get_messages", {"limit": "many", **s}),
                ("add_message", {"content": 123, **s}),
                ("create_session", {"auth_token": token}),
                ("list_sessions", {"limt": 5, "auth_token": token}),
            ]
        )
    assert limit["error"] == 'limit must be an integer from 1 to 1,000; got "many".'
    assert content["error"] == "content must be a non-empty string; got 123."
    assert missing["error"] == "purpose is required: a non-empty string."
    assert unknown["error"].startswith("list_sessions has no argument 'limt'; it takes limit, offset")


async def test_integral_numbers_are_integers_and_strings_of_digits_are_ttls(running: Running) -> None:
    with trio.fail_after(60):
        token = await running.token("alice")
        sid = await new_session(running, token)
        page, stored = await running.mcp().calls(
            [
                ("get_messages", {"session_id": sid, "limit": 5.0, "since_id": 0.0, "auth_token": token}),
                ("set_memory", {"key": "k", "value": 1, "expires_in": " 60 ", "auth_token": token}),
            ]
        )
    assert page["success"] and page["count"] == 0, page
    assert stored["success"] and stored["expires_at"] is not None, stored


SCHEMA = {
    "type": "object",
    "properties": {
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
        "since": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
        "scope": {"enum": ["all", "public"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "flag": {"type": "boolean"},
        "meta": {"anyOf": [{"type": "object"}, {"type": "string"}, {"type": "null"}]},
        "value": {},
    },
    "required": ["value"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("limit", "an integer from 1 to 1,000"),
        ("since", "an integer of at least 0 or null"),
        ("scope", 'one of "all", "public"'),
        ("tags", "a list of strings"),
        ("flag", "true or false"),
        ("meta", "a JSON object or a string or null"),
        ("value", "any JSON value"),
    ],
)
def test_describe_says_a_schema_in_words(name: str, words: str) -> None:
    assert describe(SCHEMA["properties"][name]) == words  # type: ignore[index]


def test_check_orders_problems_by_parameter_and_keeps_good_arguments() -> None:
    args = Arguments("t", SCHEMA)
    assert args.check({"value": None, "limit": 7.0}) == {"value": None, "limit": 7}
    with pytest.raises(Exception) as bad:
        args.check({"value": 1, "flag": 0, "limit": 0})
    assert "limit must be" in str(bad.value)
