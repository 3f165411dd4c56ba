"""Checking a tool call's arguments against the tool's published input schema, so that the
schema clients see is exactly what is enforced, and every problem is our error envelope
(`INVALID_INPUT`, or the reference's more specific code) naming the argument."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from jsonschema import Draft202012Validator, ValidationError

from scsd.errors import ToolError

# The reference's codes for a bad value of these arguments; any other is INVALID_INPUT.
_CODES: Final[Mapping[str, str]] = {
    "visibility": "INVALID_VISIBILITY",
    "visibility_filter": "INVALID_VISIBILITY",
    "search_scope": "INVALID_VISIBILITY",
    "metadata": "INVALID_METADATA_FORMAT",
    "key": "INVALID_KEY",
    "start_time": "INVALID_DATETIME",
    "end_time": "INVALID_DATETIME",
    "guidance_type": "INVALID_GUIDANCE_TYPE",
}
# Patterns said in words.
_PATTERNS: Final[Mapping[str, str]] = {
    "^session_[0-9a-f]{16}$": "'session_' followed by 16 hex digits",
    "^(session_[0-9a-f]{16})?$": "'session_' followed by 16 hex digits (or empty for global)",
    "^(session_[0-9a-f]{16}|all)?$": "'session_' followed by 16 hex digits, or \"all\"",
    r"^\s*[0-9]+\s*$": "whole seconds as digits",
}
_SHOWN_CHARS: Final = 80


class Arguments:
    """One tool's argument check: `check()` returns the arguments to call it with."""

    def __init__(self, tool: str, schema: Mapping[str, Any]) -> None:
        Draft202012Validator.check_schema(schema)
        self._tool = tool
        self._properties: Mapping[str, Any] = schema.get("properties", {})
        self._required: list[str] = list(schema.get("required", []))
        self._validator = Draft202012Validator(schema)
        self._integers = frozenset(n for n, s in self._properties.items() if "integer" in _types(s))

    def check(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments, with integral numbers (`50.0`) as integers where the schema says
        integer (JSON does not tell them apart).

        Raises:
            ToolError: the first problem in parameter order (a missing or unknown argument, or
                a value of the wrong type or out of range), naming the argument and what it takes.
        """
        errors = list(self._validator.iter_errors(dict(arguments)))
        if errors:
            raise self._first(errors, arguments)
        return {name: _integral(v) if name in self._integers else v for name, v in arguments.items()}

    def _first(self, errors: list[ValidationError], arguments: Mapping[str, Any]) -> ToolError:
        order = {name: i for i, name in enumerate(self._properties)}
        unknown = sorted(name for name in arguments if name not in self._properties)
        if unknown:
            takes = ", ".join(self._properties) or "no arguments"
            return ToolError(
                "INVALID_INPUT",
                f"{self._tool} has no argument {unknown[0]!r}; it takes {takes}.",
                suggestions=[f"Remove {unknown[0]!r}, or check its spelling"],
                context={"field": unknown[0], "allowed": list(self._properties)},
            )
        missing = [name for name in self._required if name not in arguments]
        if missing:
            name = missing[0]
            expected = describe(self._properties.get(name, {}))
            return ToolError(
                "INVALID_INPUT",
                f"{name} is required: {expected}.",
                suggestions=[f"Pass {name} ({expected})"],
                context={"field": name, "expected": expected},
            )
        named = [e for e in errors if e.absolute_path]
        name = str(min(named, key=lambda e: order.get(str(e.absolute_path[0]), len(order))).absolute_path[0])
        value = arguments[name]
        expected = describe(self._properties[name])
        return ToolError(
            _code(name, value),
            f"{name} must be {expected}; got {_shown(value)}.",
            suggestions=[f"Pass {name} as {expected}"],
            context={"field": name, "expected": expected},
        )


def describe(schema: Mapping[str, Any]) -> str:
    """A property's schema in words: "an integer from 1 to 1000", "true or false", …"""
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        text = " or ".join(describe(s) for s in options) or "anything"
        return text + (" or null" if len(options) < len(schema["anyOf"]) else "")
    kind = schema.get("type")
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"{noun} from {low:,} to {high:,}"
        if low is not None:
            return f"{noun} of at least {low:,}"
        return noun
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        pattern = schema.get("pattern")
        if pattern is not None:
            return f"a string: {_PATTERNS.get(pattern, f'matching {pattern}')}"
        return "a non-empty string" if schema.get("minLength") else "a string"
    if kind == "array":
        return f"a list of {_plural(describe(schema.get('items', {})))}"
    if kind == "object":
        return "a JSON object"
    return "any JSON value"


def _code(name: str, value: object) -> str:
    if name == "expires_in":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        # A whole number out of range is a bad value; anything else is not a TTL at all.
        return "INVALID_TTL_VALUE" if number and float(value).is_integer() else "INVALID_TTL_FORMAT"  # type: ignore[arg-type]
    return _CODES.get(name, "INVALID_INPUT")


def _types(schema: Mapping[str, Any]) -> set[str]:
    if "anyOf" in schema:
        return {t for s in schema["anyOf"] for t in _types(s)}
    kind = schema.get("type")
    return {kind} if isinstance(kind, str) else set()


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _plural(phrase: str) -> str:
    for article in ("a ", "an "):
        if phrase.startswith(article):
            return phrase[len(article) :].replace("string", "strings", 1).replace("integer", "integers", 1)
    return phrase
