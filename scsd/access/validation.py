"""Argument checks shared by the MCP tools and the sockets; each failure says what to do."""

from __future__ import annotations

import json
import re
from typing import Any, Final

from scsd.errors import ToolError, invalid_input
from scsd.model import VISIBILITIES

MAX_CONTENT: Final = 100_000
MAX_PURPOSE: Final = 1_000
MAX_METADATA_CHARS: Final = 10_000
MAX_METADATA_KEYS: Final = 50
MAX_METADATA_KEY: Final = 100
# Deeper JSON cannot be read back by common clients (the MCP Python client stops at 200
# levels, and a reply wraps stored values in a few more).
MAX_JSON_DEPTH: Final = 64
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 and C1 but \t \n \r
_SESSION_ID: Final = re.compile(r"session_[0-9a-f]{16}")


def clean_text(value: object, field: str, max_chars: int) -> str:
    """Strip control characters other than newline, tab and CR; trim; require non-blank.

    Raises:
        ToolError: INVALID_INPUT when blank or not text, CONTENT_TOO_LARGE when too long.
    """
    if not isinstance(value, str):
        raise invalid_input(f"{field} must be a string.", field)
    text = _CONTROL.sub("", value).strip()
    if not text:
        raise invalid_input(f"{field} must not be empty or blank.", field, f"Provide a {field}")
    if len(text) > max_chars:
        raise ToolError(
            "CONTENT_TOO_LARGE",
            f"{field} is {len(text):,} characters; the limit is {max_chars:,}.",
            suggestions=[
                f"Split the {field} into several messages" if field == "content" else f"Shorten the {field}"
            ],
            context={"field": field, "length": len(text), "limit": max_chars},
        )
    return text


def metadata(value: object) -> dict[str, Any]:
    """A JSON object of at most 50 keys and 10,000 characters; None means empty.

    Raises:
        ToolError: INVALID_METADATA_FORMAT.
    """
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _bad_metadata("metadata is a string but not valid JSON.") from None
    if not isinstance(value, dict):
        raise _bad_metadata('metadata must be a JSON object, like {"topic": "auth"}.')
    if len(value) > MAX_METADATA_KEYS:
        raise _bad_metadata(f"metadata has {len(value)} keys; the limit is {MAX_METADATA_KEYS}.")
    if not all(isinstance(k, str) for k in value):
        raise _bad_metadata("metadata keys must be strings.")
    if any(len(k) > MAX_METADATA_KEY for k in value):
        raise _bad_metadata(f"metadata keys must be at most {MAX_METADATA_KEY} characters.")
    if json_depth(value) > MAX_JSON_DEPTH:
        raise _bad_metadata(f"metadata is nested deeper than {MAX_JSON_DEPTH} levels; flatten it.")
    try:
        # allow_nan=False: NaN/Infinity are not JSON, and a browser's JSON.parse rejects them.
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError):
        raise _bad_metadata("metadata must contain only JSON values.") from None
    if size > MAX_METADATA_CHARS:
        raise _bad_metadata(f"metadata is {size:,} characters as JSON; the limit is {MAX_METADATA_CHARS:,}.")
    return value


def json_depth(value: object) -> int:
    """How deeply lists and objects nest in `value` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth  # deep enough to refuse; no need to walk the rest
            stack.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def visibility(value: object) -> str:
    if value not in VISIBILITIES:
        raise ToolError(
            "INVALID_VISIBILITY",
            f"visibility must be one of {', '.join(VISIBILITIES)}; got {value!r}.",
            context={"allowed_values": list(VISIBILITIES)},
        )
    return str(value)


def session_id(value: object) -> str:
    if not isinstance(value, str) or not _SESSION_ID.fullmatch(value):
        raise invalid_input(
            f"session_id must look like 'session_' followed by 16 hex digits; got {value!r}.",
            "session_id",
            "Use an id returned by create_session or list_sessions",
        )
    return value


def int_range(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid_input(f"{field} must be an integer from {low} to {high}; got {value!r}.", field)
    return value


def optional_id(value: object, field: str) -> int | None:
    if value is None:
        return None
    return int_range(value, field, 0, 2**63 - 1)


def _bad_metadata(message: str) -> ToolError:
    return ToolError(
        "INVALID_METADATA_FORMAT", message, suggestions=["Pass a small JSON object, or omit metadata"]
    )


def number_range(value: object, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise invalid_input(f"{field} must be a number from {low:g} to {high:g}; got {value!r}.", field)
    return float(value)


def boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise invalid_input(f"{field} must be true or false; got {value!r}.", field)
    return value
