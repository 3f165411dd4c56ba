"""Tests for scsd.validation: text cleaning, size limits, metadata, ids and integer ranges."""

from __future__ import annotations

import json

import pytest

from scsd.access import validation
from scsd.errors import ToolError
from scsd.model import VISIBILITIES


def _code(exc: pytest.ExceptionInfo[ToolError]) -> str:
    return exc.value.code


# -- clean_text ------------------------------------------------------------------------------


def test_control_characters_are_stripped_but_newline_tab_cr_kept() -> None:
    raw = "a\x00b\x01c\x07d\x08e\x0bf\x0cg\x1bh\x1fi\x7fj\nk\tl\rm"
    assert validation.clean_text(raw, "content", 1000) == "abcdefghij\nk\tl\rm"


def test_text_is_trimmed() -> None:
    assert validation.clean_text("  \n\t hello world \r\n ", "content", 100) == "hello world"


def test_c1_control_characters_are_stripped() -> None:
    """U+0080..U+009F are control characters too (Unicode category Cc)."""
    assert validation.clean_text("a\u0080b\u009bc\u009fd", "content", 100) == "abcd"


def test_ordinary_unicode_is_kept() -> None:
    text = "caf\u00e9 \u65e5\u672c \U0001f600 \u00a0x"
    assert validation.clean_text(text, "content", 100) == text


@pytest.mark.parametrize("raw", ["", "   ", "\n\t\r", "\x00\x01\x7f", " \x00 \x1f "])
def test_blank_text_is_rejected(raw: str) -> None:
    with pytest.raises(ToolError) as caught:
        validation.clean_text(raw, "content", 100)
    assert _code(caught) == "INVALID_INPUT"
    assert caught.value.context == {"field": "content"}


@pytest.mark.parametrize("value", [None, 5, b"bytes", ["list"]])
def test_non_text_is_rejected(value: object) -> None:
    with pytest.raises(ToolError) as caught:
        validation.clean_text(value, "purpose", 100)
    assert _code(caught) == "INVALID_INPUT"


def test_content_limit_is_100000_characters() -> None:
    at_limit = "x" * validation.MAX_CONTENT
    assert validation.MAX_CONTENT == 100_000
    assert validation.clean_text(at_limit, "content", validation.MAX_CONTENT) == at_limit
    with pytest.raises(ToolError) as caught:
        validation.clean_text(at_limit + "y", "content", validation.MAX_CONTENT)
    assert _code(caught) == "CONTENT_TOO_LARGE"
    assert caught.value.context == {"field": "content", "length": 100_001, "limit": 100_000}
    assert "100,001" in caught.value.message
    assert caught.value.suggestions


def test_limit_counts_the_cleaned_text() -> None:
    """Whitespace and control characters that get removed do not count towards the limit."""
    padded = "  " + "x" * 100_000 + "\x00\x00  "
    assert len(validation.clean_text(padded, "content", 100_000)) == 100_000


def test_limit_counts_characters_not_bytes() -> None:
    text = "\u00e9" * 100_000  # 200,000 bytes in UTF-8
    assert validation.clean_text(text, "content", 100_000) == text


# -- metadata --------------------------------------------------------------------------------


def test_metadata_none_is_empty() -> None:
    assert validation.metadata(None) == {}


def test_metadata_accepts_objects_and_json_text() -> None:
    assert validation.metadata({"a": [1, {"b": None}]}) == {"a": [1, {"b": None}]}
    assert validation.metadata('{"topic": "auth"}') == {"topic": "auth"}


@pytest.mark.parametrize("value", ["not json", "[1, 2]", "42", '"text"', [1, 2], 3, "null"])
def test_metadata_must_be_a_json_object(value: object) -> None:
    with pytest.raises(ToolError) as caught:
        validation.metadata(value)
    assert _code(caught) == "INVALID_METADATA_FORMAT"


def test_metadata_key_count_limit() -> None:
    ok = {f"k{i}": i for i in range(validation.MAX_METADATA_KEYS)}
    assert validation.metadata(ok) == ok
    with pytest.raises(ToolError) as caught:
        validation.metadata({**ok, "one-more": 0})
    assert _code(caught) == "INVALID_METADATA_FORMAT"


def test_metadata_key_length_limit() -> None:
    assert validation.metadata({"k" * 100: 1})
    with pytest.raises(ToolError) as caught:
        validation.metadata({"k" * 101: 1})
    assert _code(caught) == "INVALID_METADATA_FORMAT"


def test_metadata_size_limit() -> None:
    def sized(n: int) -> dict[str, str]:
        value = {"k": ""}
        overhead = len(json.dumps(value, separators=(",", ":")))
        return {"k": "v" * (n - overhead)}

    assert validation.metadata(sized(validation.MAX_METADATA_CHARS)) == sized(10_000)
    with pytest.raises(ToolError) as caught:
        validation.metadata(sized(validation.MAX_METADATA_CHARS + 1))
    assert _code(caught) == "INVALID_METADATA_FORMAT"


def test_metadata_with_non_json_values_is_rejected() -> None:
    with pytest.raises(ToolError) as caught:
        validation.metadata({"when": object()})
    assert _code(caught) == "INVALID_METADATA_FORMAT"


@pytest.mark.parametrize(
    "value", ['{"x": NaN}', '{"x": Infinity}', {"x": float("nan")}, {"x": [float("-inf")]}]
)
def test_metadata_rejects_nan_and_infinity(value: object) -> None:
    """NaN/Infinity are not JSON: stored, they would break every browser's JSON.parse of the event."""
    with pytest.raises(ToolError) as caught:
        validation.metadata(value)
    assert _code(caught) == "INVALID_METADATA_FORMAT"


# -- visibility, session ids, integers ------------------------------------------------------


@pytest.mark.parametrize("value", VISIBILITIES)
def test_visibility_accepts_the_four(value: str) -> None:
    assert validation.visibility(value) == value


@pytest.mark.parametrize("value", ["Public", "all", "", None, 1, "team"])
def test_visibility_rejects_others(value: object) -> None:
    with pytest.raises(ToolError) as caught:
        validation.visibility(value)
    assert _code(caught) == "INVALID_VISIBILITY"
    assert caught.value.context["allowed_values"] == list(VISIBILITIES)


def test_session_id_format() -> None:
    good = "session_0123456789abcdef"
    assert validation.session_id(good) == good


@pytest.mark.parametrize(
    "value",
    [
        "session_0123456789ABCDEF",  # upper-case hex
        "session_0123456789abcde",  # 15 digits
        "session_0123456789abcdef0",  # 17 digits
        "session_0123456789abcdeg",  # not hex
        "Session_0123456789abcdef",
        " session_0123456789abcdef",
        "session_0123456789abcdef\n",
        "0123456789abcdef",
        "",
        None,
        12,
    ],
)
def test_session_id_rejects_bad_ids(value: object) -> None:
    with pytest.raises(ToolError) as caught:
        validation.session_id(value)
    assert _code(caught) == "INVALID_INPUT"
    assert caught.value.context == {"field": "session_id"}


def test_int_range_bounds() -> None:
    assert validation.int_range(1, "limit", 1, 1000) == 1
    assert validation.int_range(1000, "limit", 1, 1000) == 1000
    for bad in (0, 1001, -1):
        with pytest.raises(ToolError) as caught:
            validation.int_range(bad, "limit", 1, 1000)
        assert _code(caught) == "INVALID_INPUT"
        assert caught.value.context == {"field": "limit"}


@pytest.mark.parametrize("value", [True, False, 1.0, "5", None, 2.5])
def test_int_range_rejects_bools_and_non_integers(value: object) -> None:
    with pytest.raises(ToolError) as caught:
        validation.int_range(value, "limit", 0, 1000)
    assert _code(caught) == "INVALID_INPUT"


def test_optional_id() -> None:
    assert validation.optional_id(None, "since_id") is None
    assert validation.optional_id(0, "since_id") == 0
    assert validation.optional_id(2**63 - 1, "since_id") == 2**63 - 1
    for bad in (-1, 2**63, True, "3"):
        with pytest.raises(ToolError):
            validation.optional_id(bad, "since_id")
