"""Tests for scsd.visibility: the rule, its SQL form agreeing with it everywhere, and narrow()."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator

import pytest

from scsd.access.visibility import can_see, can_see_message, narrow, sql_clause
from scsd.model import VISIBILITIES, Identity, Message

AGENT_IDS = ("alice", "bob", "x' OR 1=1 --")
AGENT_TYPES = ("claude", "gemini", "admin")
# The four visibilities, plus values the rule must treat as hidden from non-admins.
MESSAGE_VISIBILITIES = (*VISIBILITIES, "Public", "unknown", "")
RW = frozenset({"read", "write"})


def _viewers() -> list[Identity]:
    viewers = []
    for agent_id, agent_type in itertools.product(AGENT_IDS, AGENT_TYPES):
        viewers.append(Identity(agent_id, agent_type, RW))
        viewers.append(Identity(agent_id, agent_type, frozenset({"read"})))
        viewers.append(Identity(agent_id, agent_type, frozenset({"read", "write", "admin"})))
    return viewers


VIEWERS = _viewers()


@pytest.fixture
def table() -> Iterator[sqlite3.Connection]:
    """An in-memory messages table holding every (sender, sender_type, visibility) combination."""
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, sender TEXT, sender_type TEXT, visibility TEXT)"
    )
    conn.executemany(
        "INSERT INTO messages (sender, sender_type, visibility) VALUES (?, ?, ?)",
        itertools.product(AGENT_IDS, AGENT_TYPES, MESSAGE_VISIBILITIES),
    )
    try:
        yield conn
    finally:
        conn.close()


def test_table_holds_every_combination(table: sqlite3.Connection) -> None:
    count = table.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert count == len(AGENT_IDS) * len(AGENT_TYPES) * len(MESSAGE_VISIBILITIES)


def test_sql_clause_agrees_with_can_see(table: sqlite3.Connection) -> None:
    """For every viewer, the rows SQL selects are exactly the rows can_see allows."""
    rows = table.execute("SELECT id, sender, sender_type, visibility FROM messages").fetchall()
    for viewer in VIEWERS:
        expected = {r[0] for r in rows if can_see(viewer, r[1], r[2], r[3])}
        clause, params = sql_clause(viewer)
        selected = {r[0] for r in table.execute(f"SELECT id FROM messages WHERE {clause}", params)}
        assert selected == expected, viewer
        prefixed, prefixed_params = sql_clause(viewer, column_prefix="m.")
        joined = {
            r[0] for r in table.execute(f"SELECT m.id FROM messages AS m WHERE {prefixed}", prefixed_params)
        }
        assert joined == expected, viewer


def test_non_admins_see_some_but_not_all(table: sqlite3.Connection) -> None:
    """The agreement test is not vacuous: non-admins see a strict, non-empty subset."""
    total = table.execute("SELECT count(*) FROM messages").fetchone()[0]
    for viewer in VIEWERS:
        clause, params = sql_clause(viewer)
        seen = table.execute(f"SELECT count(*) FROM messages WHERE {clause}", params).fetchone()[0]
        if viewer.is_admin:
            assert seen == total, viewer
        else:
            assert 0 < seen < total, viewer


@pytest.mark.parametrize(
    ("viewer", "sender", "sender_type", "visibility", "visible"),
    [
        # public: everyone
        (Identity("bob", "gemini", RW), "alice", "claude", "public", True),
        # private: the sender only, whatever the types
        (Identity("alice", "claude", RW), "alice", "claude", "private", True),
        (Identity("bob", "claude", RW), "alice", "claude", "private", False),
        (Identity("alice", "gemini", RW), "alice", "claude", "private", True),
        # agent_only: same type as the sender, not just the sender (the reference's defect)
        (Identity("bob", "claude", RW), "alice", "claude", "agent_only", True),
        (Identity("alice", "claude", RW), "alice", "claude", "agent_only", True),
        (Identity("bob", "gemini", RW), "alice", "claude", "agent_only", False),
        # admin_only: admins only, even for the sender
        (Identity("alice", "claude", RW), "alice", "claude", "admin_only", False),
        (Identity("alice", "admin", RW), "alice", "claude", "admin_only", False),
        (Identity("root", "claude", frozenset({"admin"})), "alice", "claude", "admin_only", True),
        # admins see everything
        (Identity("root", "x", frozenset({"admin"})), "alice", "claude", "private", True),
        (Identity("root", "x", frozenset({"admin"})), "alice", "claude", "agent_only", True),
        # unknown visibility: hidden from non-admins
        (Identity("alice", "claude", RW), "alice", "claude", "secret", False),
    ],
)
def test_can_see_rules(
    viewer: Identity, sender: str, sender_type: str, visibility: str, visible: bool
) -> None:
    assert can_see(viewer, sender, sender_type, visibility) is visible


def test_can_see_message_uses_the_message_fields() -> None:
    message = Message(1, "session_" + "0" * 16, "alice", "claude", "hi", "agent_only", "x", {}, 0, None)
    assert can_see_message(Identity("bob", "claude", RW), message)
    assert not can_see_message(Identity("bob", "gemini", RW), message)


@pytest.mark.parametrize("requested", [None, "", "all"])
def test_narrow_without_a_filter_means_every_visibility(requested: str | None) -> None:
    assert narrow(requested) == VISIBILITIES


@pytest.mark.parametrize("requested", VISIBILITIES)
def test_narrow_to_one_visibility(requested: str) -> None:
    assert narrow(requested) == (requested,)


@pytest.mark.parametrize(
    "requested", ["everything", "PUBLIC", "public,private", "%", "*", " public", "admin", "1 OR 1=1"]
)
def test_narrow_rejects_unknown_filters(requested: str) -> None:
    with pytest.raises(ValueError):
        narrow(requested)


@pytest.mark.parametrize("requested", [None, "", "all", *VISIBILITIES])
def test_narrow_never_widens(table: sqlite3.Connection, requested: str | None) -> None:
    """Rows selected with the filter are a subset of what the viewer may see without it."""
    allowed = set(narrow(requested))
    assert allowed <= set(VISIBILITIES)
    marks = ", ".join("?" for _ in allowed)
    for viewer in VIEWERS:
        clause, params = sql_clause(viewer)
        rows = table.execute(
            "SELECT sender, sender_type, visibility FROM messages"
            f" WHERE {clause} AND visibility IN ({marks})",
            [*params, *allowed],
        ).fetchall()
        assert all(can_see(viewer, *row) for row in rows), viewer
        assert all(row[2] in allowed for row in rows), viewer
