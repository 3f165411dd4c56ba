"""Property tests: the visibility rule and its SQL form agree, filters only narrow, and the
validators either return clean values or raise ToolError, nothing else."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scsd.access import validation
from scsd.access.visibility import can_see, narrow, sql_clause
from scsd.errors import ToolError
from scsd.model import VISIBILITIES, Identity

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Small pools make collisions (same sender, same type) common; text() adds odd values.
names = st.one_of(
    st.sampled_from(["alice", "bob", "", "Alice", "x' OR 1=1 --", "%", "_"]), st.text(max_size=8)
)
types = st.one_of(st.sampled_from(["claude", "gemini", "admin", "CLAUDE", ""]), st.text(max_size=6))
levels = st.one_of(st.sampled_from([*VISIBILITIES, "Public", "all", "", "unknown"]), st.text(max_size=10))
permissions = st.frozensets(st.sampled_from(["read", "write", "admin", "debug"]))
identities = st.builds(Identity, names, types, permissions)
messages = st.lists(st.tuples(names, types, levels), max_size=25)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=120), inner, max_size=8)
    ),
    max_leaves=40,
)
anything = st.one_of(
    json_values,
    st.binary(max_size=20),
    st.tuples(st.integers()),
    st.just(object()),
    st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2),  # not JSON: int keys
)


@SETTINGS
@given(viewer=identities, rows=messages, prefix=st.sampled_from(["", "m."]))
def test_sql_clause_selects_exactly_what_can_see_allows(
    viewer: Identity, rows: list[tuple[str, str, str]], prefix: str
) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY, sender TEXT, sender_type TEXT, visibility TEXT)"
        )
        conn.executemany("INSERT INTO messages (sender, sender_type, visibility) VALUES (?, ?, ?)", rows)
        clause, params = sql_clause(viewer, column_prefix=prefix)
        selected = {r[0] for r in conn.execute(f"SELECT m.id FROM messages AS m WHERE {clause}", params)}
    finally:
        conn.close()
    expected = {
        i for i, (sender, kind, level) in enumerate(rows, start=1) if can_see(viewer, sender, kind, level)
    }
    assert selected == expected


@SETTINGS
@given(viewer=identities, sender=names, kind=types, level=levels)
def test_can_see_follows_the_documented_rule(viewer: Identity, sender: str, kind: str, level: str) -> None:
    expected = (
        "admin" in viewer.permissions
        or level == "public"
        or (level == "private" and sender == viewer.agent_id)
        or (level == "agent_only" and kind == viewer.agent_type)
    )
    assert can_see(viewer, sender, kind, level) is expected


@SETTINGS
@given(requested=st.one_of(st.none(), levels))
def test_narrow_never_widens(requested: str | None) -> None:
    try:
        allowed = narrow(requested)
    except ValueError:
        assert requested not in (*VISIBILITIES, None, "", "all")
        return
    assert set(allowed) <= set(VISIBILITIES)
    if requested in VISIBILITIES:
        assert allowed == (requested,)
    else:
        assert requested in (None, "", "all") and set(allowed) == set(VISIBILITIES)


@SETTINGS
@given(viewer=identities, rows=messages, requested=st.one_of(st.none(), levels))
def test_a_filter_only_removes_messages(
    viewer: Identity, rows: list[tuple[str, str, str]], requested: str | None
) -> None:
    try:
        allowed = narrow(requested)
    except ValueError:
        return
    visible = {i for i, (s, k, lv) in enumerate(rows) if can_see(viewer, s, k, lv)}
    filtered = {i for i, (s, k, lv) in enumerate(rows) if can_see(viewer, s, k, lv) and lv in allowed}
    assert filtered <= visible


@SETTINGS
@given(value=st.one_of(st.text(), anything), max_chars=st.integers(min_value=1, max_value=50))
def test_clean_text_returns_clean_bounded_text_or_tool_error(value: Any, max_chars: int) -> None:
    try:
        text = validation.clean_text(value, "content", max_chars)
    except ToolError as e:
        assert e.code in {"INVALID_INPUT", "CONTENT_TOO_LARGE"}
        return
    assert isinstance(text, str) and text.strip() == text and text
    assert len(text) <= max_chars
    assert not CONTROL.search(text)


@SETTINGS
@given(value=st.one_of(json_values, anything, json_values.map(lambda v: json.dumps(v, allow_nan=True))))
def test_metadata_returns_a_small_json_object_or_tool_error(value: Any) -> None:
    try:
        meta = validation.metadata(value)
    except ToolError as e:
        assert e.code == "INVALID_METADATA_FORMAT"
        return
    assert isinstance(meta, dict) and len(meta) <= validation.MAX_METADATA_KEYS
    assert all(isinstance(k, str) and len(k) <= validation.MAX_METADATA_KEY for k in meta)
    text = json.dumps(meta, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    assert len(text) <= validation.MAX_METADATA_CHARS
    assert json.loads(text) == meta


@SETTINGS
@given(value=st.one_of(levels, anything))
def test_visibility_returns_a_known_level_or_tool_error(value: Any) -> None:
    try:
        level = validation.visibility(value)
    except ToolError as e:
        assert e.code == "INVALID_VISIBILITY"
        return
    assert level in VISIBILITIES


@SETTINGS
@given(
    value=st.one_of(st.from_regex(r"session_[0-9a-f]{16}", fullmatch=True), st.text(max_size=30), anything)
)
def test_session_id_returns_a_well_formed_id_or_tool_error(value: Any) -> None:
    try:
        sid = validation.session_id(value)
    except ToolError as e:
        assert e.code == "INVALID_INPUT"
        return
    assert re.fullmatch(r"session_[0-9a-f]{16}", sid)


@SETTINGS
@given(value=st.one_of(st.integers(), anything), low=st.integers(-5, 5), span=st.integers(0, 1000))
def test_int_range_returns_an_int_in_range_or_tool_error(value: Any, low: int, span: int) -> None:
    try:
        n = validation.int_range(value, "limit", low, low + span)
    except ToolError as e:
        assert e.code == "INVALID_INPUT" and "limit" in e.message
        return
    assert type(n) is int and low <= n <= low + span


@SETTINGS
@given(value=st.one_of(st.none(), st.integers(), anything))
def test_optional_id_returns_none_or_a_non_negative_int_or_tool_error(value: Any) -> None:
    try:
        n = validation.optional_id(value, "since_id")
    except ToolError as e:
        assert e.code == "INVALID_INPUT"
        return
    assert n is None or (type(n) is int and n >= 0)


@SETTINGS
@given(
    value=st.one_of(st.floats(), st.integers(), anything), low=st.integers(-5, 5), span=st.integers(0, 100)
)
def test_number_range_returns_a_finite_number_in_range_or_tool_error(value: Any, low: int, span: int) -> None:
    try:
        n = validation.number_range(value, "fuzzy_threshold", low, low + span)
    except ToolError as e:
        assert e.code == "INVALID_INPUT"
        return
    assert isinstance(n, float) and low <= n <= low + span


@SETTINGS
@given(value=anything)
def test_boolean_returns_a_bool_or_tool_error(value: Any) -> None:
    try:
        b = validation.boolean(value, "search_metadata")
    except ToolError as e:
        assert e.code == "INVALID_INPUT"
        return
    assert b is value
