"""`scsd backup`, `scsd export`, `scsd import`: real `python -m scsd` processes against the
database of a real running daemon (and of none), round trips compared field by field."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Final

import pytest
import trio

from scsd.cli.transfer import EVERYTHING, Refused, parse_export
from scsd.model import VISIBILITIES, iso_from_micros
from scsd.store import open_store
from scsd.store.textfold import fold
from tests.kit.cli import run_scsd
from tests.kit.daemon import Running

LOAD_SECONDS: Final = 90.0
WRITERS: Final = 3
BATCH: Final = 10
PURPOSE: Final = "Café ☕ review — 日本語"
SESSION_METADATA: Final = {"ключ": "値 🎉", "nested": {"list": [1, 2.5, None, True], "q": 'say "hi"'}}


async def _fill(running: Running) -> tuple[str, dict[str, int]]:
    """A session with a message of every visibility, threads and unicode metadata; returns
    its id and the message ids by name."""
    tokens = {
        "alice": await running.token("alice"),
        "bob": await running.token("bob"),
        "gina": await running.token("gina", "gemini"),
        "root": await running.token("root", admin=True, permissions=["read", "write", "admin"]),
    }
    mcp = running.mcp()
    created = await mcp.call(
        "create_session", purpose=PURPOSE, metadata=SESSION_METADATA, auth_token=tokens["alice"]
    )
    sid = str(created["session_id"])
    ids: dict[str, int] = {}
    plan: list[tuple[str, str, str, str, dict[str, Any], str | None]] = [
        (
            "m1",
            "alice",
            "plain **markdown**\n\n- item `code`\n# not a heading",
            "public",
            {"emoji": "🎉"},
            None,
        ),
        ("m2", "alice", "alice's secret ✓", "private", {}, "m1"),
        ("m3", "alice", "claude-only note", "agent_only", {"tags": ["ü", "ß"]}, None),
        ("m4", "root", "admins only", "admin_only", {}, None),
        ("m5", "bob", "bob answers alice", "public", {"reply": True}, "m1"),
        ("m6", "gina", "gina's private thought, Ελληνικά", "private", {}, "m5"),
        ("m7", "gina", "gina replies to bob", "public", {"n": 0.1}, "m5"),
    ]
    for name, who, content, visibility, metadata, parent in plan:
        reply = await mcp.call(
            "add_message", session_id=sid, content=content, visibility=visibility, metadata=metadata,
            parent_message_id=None if parent is None else ids[parent], auth_token=tokens[who],
        )  # fmt: skip
        assert reply["success"], reply
        ids[name] = int(reply["message_id"])
    return sid, ids


def _jsonl(text: str | bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (text.decode() if isinstance(text, bytes) else text).splitlines()]


def _data(running: Running) -> tuple[str, Path]:
    return ("--data-dir", running.config.data_dir)


async def test_export_import_round_trip_is_lossless(running: Running, tmp_path: Path) -> None:
    sid, ids = await _fill(running)
    first, second, other = tmp_path / "first.jsonl", tmp_path / "second.jsonl", tmp_path / "other"
    exported = await run_scsd("export", sid, "--output", first, *_data(running))
    assert exported.returncode == 0, exported.stderr
    imported = await run_scsd("import", first, "--data-dir", other)
    assert imported.returncode == 0, imported.stderr
    again = await run_scsd("export", sid, "--output", second, "--data-dir", other)
    assert again.returncode == 0, again.stderr

    before, after = _jsonl(first.read_text()), _jsonl(second.read_text())
    assert (
        before[0]
        == after[0]
        == before[0] | {"type": "session", "purpose": PURPOSE, "metadata": SESSION_METADATA}
    )
    assert [m["id"] for m in before[1:]] == list(ids.values())
    new_id = {old["id"]: new["id"] for old, new in zip(before[1:], after[1:], strict=True)}
    for old, new in zip(before[1:], after[1:], strict=True):
        parent = old["parent_message_id"]
        assert new == old | {"id": new_id[old["id"]], "parent_message_id": parent and new_id[parent]}
    assert {m["visibility"] for m in after[1:]} == set(VISIBILITIES)
    assert sum(m["parent_message_id"] is not None for m in after[1:]) == 4

    # The search index was written too: imported messages are found.
    async with open_store(other / "scsd.db") as store:
        found = await store.search_candidates(sid, EVERYTHING, VISIBILITIES, fold("ΕΛΛΗΝΙΚΑ"), 10)
        assert [text.strip() for _, text in found] == ["gina gina's private thought, ελληνικα"]
        found = await store.search_candidates(sid, EVERYTHING, VISIBILITIES, fold("answers"), 10)
        assert new_id[ids["m5"]] in [message_id for message_id, _ in found]

    refused = await run_scsd("import", first, "--data-dir", other)
    assert refused.returncode == 2
    assert f"session {sid} already exists" in refused.stderr.decode() and "--db" in refused.stderr.decode()


async def test_export_as_an_agent_shows_only_what_it_may_see(running: Running) -> None:
    sid, _ = await _fill(running)
    as_bob = await run_scsd("export", sid, "--as-agent", "bob", *_data(running))
    assert as_bob.returncode == 0, as_bob.stderr
    contents = [m["content"] for m in _jsonl(as_bob.stdout)[1:]]
    assert "alice's secret ✓" not in contents and "admins only" not in contents
    assert "gina's private thought, Ελληνικά" not in contents
    assert contents == ["plain **markdown**\n\n- item `code`\n# not a heading", "claude-only note",
                        "bob answers alice", "gina replies to bob"]  # fmt: skip
    as_gina = await run_scsd("export", sid, "--as-agent", "gina", "--as-type", "Gemini", *_data(running))
    assert as_gina.returncode == 0, as_gina.stderr
    visible = {m["content"] for m in _jsonl(as_gina.stdout)[1:]}
    assert "claude-only note" not in visible and "gina's private thought, Ελληνικά" in visible


async def test_markdown_transcript_holds_every_visible_message(running: Running) -> None:
    sid, ids = await _fill(running)
    everything = _jsonl((await run_scsd("export", sid, *_data(running))).stdout)[1:]
    done = await run_scsd("export", sid, "--format", "markdown", *_data(running))
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    assert text.startswith(f"# {PURPOSE}\n")
    for m in everything:
        assert m["content"] in text
        assert (
            f"## #{m['id']} {m['sender']} ({m['sender_type']}), {m['visibility']}, {m['timestamp']}" in text
        )
    assert f"reply to #{ids['m1']}" in text
    as_bob = (
        await run_scsd("export", sid, "--format", "markdown", "--as-agent", "bob", *_data(running))
    ).stdout
    assert "alice's secret" not in as_bob.decode() and "bob answers alice" in as_bob.decode()


async def test_export_of_an_unknown_session_or_database_is_refused(running: Running, tmp_path: Path) -> None:
    unknown = await run_scsd("export", "session_0000000000000000", *_data(running))
    assert unknown.returncode == 2 and unknown.stdout == b""
    assert "no session 'session_0000000000000000'" in unknown.stderr.decode()
    nowhere = await run_scsd("export", "session_0000000000000000", "--data-dir", tmp_path / "empty")
    assert nowhere.returncode == 2 and "no database at" in nowhere.stderr.decode()
    assert not (tmp_path / "empty").exists()


async def test_backup_under_write_load_is_consistent(running: Running, tmp_path: Path) -> None:
    token = await running.token("writer")
    sid = (await running.mcp().call("create_session", purpose="load", auth_token=token))["session_id"]
    confirmed = 0
    stop = trio.Event()

    async def write(started: trio.Event) -> None:
        nonlocal confirmed
        mcp = running.mcp(Authorization=f"Bearer {token}")
        while not stop.is_set():
            calls = [("add_message", {"session_id": sid, "content": f"load {i}"}) for i in range(BATCH)]
            replies = await mcp.calls(calls)
            assert all(r["success"] for r in replies), replies
            confirmed += len(replies)
            started.set()

    target = tmp_path / "backup.db"
    with trio.fail_after(LOAD_SECONDS):
        async with trio.open_nursery() as nursery:
            for _ in range(WRITERS):
                started = trio.Event()
                nursery.start_soon(write, started)
                await started.wait()  # every writer has committed a batch and keeps going
            written_before = confirmed
            done = await run_scsd("backup", target, *_data(running))
            stop.set()
    assert done.returncode == 0, done.stderr
    assert "integrity ok" in done.stdout.decode()
    with closing(sqlite3.connect(target)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA foreign_key_check").fetchall() == []
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        messages = copy.execute("SELECT count(*) FROM messages WHERE session_id = ?", [sid]).fetchone()[0]
        indexed = copy.execute("SELECT count(*) FROM messages_fts").fetchone()[0]
        total = copy.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert messages >= written_before > 0
    assert indexed == total  # message and index row commit together, so a snapshot has both
    left = sorted(p.name for p in await trio.Path(tmp_path).iterdir())
    assert left == ["backup.db", "data"], "the partial copy was left behind"


async def test_backup_refuses_an_existing_path(running: Running, tmp_path: Path) -> None:
    target = tmp_path / "taken.db"
    target.write_text("keep me")
    done = await run_scsd("backup", target, *_data(running))
    assert done.returncode == 2
    assert "exists; a backup never overwrites" in done.stderr.decode()
    assert target.read_text() == "keep me"


async def test_backup_without_a_daemon_and_export_from_it(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    session: dict[str, Any] = {"type": "session", "id": "session_00000000000000ab", "purpose": "offline",
               "created_by": "op", "created_at": "2024-02-29T23:59:59.999999Z",
               "updated_at": "2024-03-01T00:00:00.000001Z", "is_active": False, "metadata": {}}  # fmt: skip
    message = {"type": "message", "id": 9, "sender": "op", "sender_type": "human", "content": "ok",
               "visibility": "public", "message_type": "system", "metadata": {},
               "timestamp": "2024-03-01T00:00:00.000001Z", "parent_message_id": None}  # fmt: skip
    source.write_text(json.dumps(session) + "\n" + json.dumps(message) + "\n\n")
    assert (await run_scsd("import", source, "--data-dir", tmp_path / "d")).returncode == 0
    done = await run_scsd("backup", tmp_path / "copy.db", "--data-dir", tmp_path / "d")
    assert done.returncode == 0, done.stderr
    assert "1 sessions, 1 messages" in done.stdout.decode()
    exported = _jsonl((await run_scsd("export", session["id"], "--db", tmp_path / "copy.db")).stdout)
    assert exported[0] == session
    assert exported[1] == message | {"id": 1, "session_id": session["id"]}


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        (['{"type": "session"'], "x.jsonl, line 1: not valid JSON (Expecting ',' delimiter at column 19)"),
        (["[]"], "line 1: expected a JSON object"),
        (['{"type": "message"}'], "line 1: the first line must be the session"),
        (["SESSION", "", '{"type": "message", "id": 1}'], "line 3: missing field"),
        (["SESSION", '{"type": "memo"}'], "line 2: expected a message line"),
        (["SESSION", "MESSAGE", "MESSAGE"], "line 3: message id 1 appears twice"),
        (["SESSION", "BLANK"], "line 2: field 'content' must be non-blank"),
        (["SESSION", "BADTIME"], "line 2: field 'timestamp' must be an ISO 8601 time"),
        ([], "x.jsonl is empty"),
    ],
)
def test_import_names_the_bad_line(lines: list[str], error: str) -> None:
    session = {"type": "session", "id": "session_00000000000000ab", "purpose": "p", "created_by": "a",
               "created_at": "2024-01-01T00:00:00.000000Z", "updated_at": "2024-01-01T00:00:00.000000Z",
               "is_active": True, "metadata": {}}  # fmt: skip
    message = {"type": "message", "id": 1, "sender": "a", "sender_type": "claude", "content": "c",
               "visibility": "public", "message_type": "agent_response", "metadata": {},
               "timestamp": "2024-01-01T00:00:00.000000Z", "parent_message_id": None}  # fmt: skip
    samples = {
        "SESSION": json.dumps(session),
        "MESSAGE": json.dumps(message),
        "BLANK": json.dumps(message | {"content": " \n"}),
        "BADTIME": json.dumps(message | {"timestamp": "2024-01-01 00:00:00"}),
    }
    with pytest.raises(Refused, match=re.escape(error)):
        parse_export((samples.get(line, line) for line in lines), "x.jsonl")


async def test_import_of_a_bad_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "session", "id": "session_00000000000000ab"}\n')
    done = await run_scsd("import", bad, "--data-dir", tmp_path / "d")
    assert done.returncode == 2
    assert done.stderr.decode().strip() == f"scsd import: {bad}, line 1: missing field 'purpose'"
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("micros", [0, 1, 999_999, 1_700_000_000_123_457, 4_102_444_799_999_999])
def test_timestamps_parse_back_to_the_exact_microsecond(micros: int) -> None:
    when = iso_from_micros(micros)
    session = {"type": "session", "id": "s", "purpose": "p", "created_by": "a", "is_active": True,
               "metadata": {}, "created_at": when, "updated_at": when}  # fmt: skip
    parsed, _ = parse_export([json.dumps(session)], "x")
    assert parsed.created_at == parsed.updated_at == micros


async def test_import_of_a_filtered_export_drops_parents_it_lacks(tmp_path: Path) -> None:
    session = {"type": "session", "id": "session_00000000000000cd", "purpose": "p", "created_by": "a",
               "created_at": "2024-01-01T00:00:00.000000Z", "updated_at": "2024-01-01T00:00:00.000000Z",
               "is_active": True, "metadata": {}}  # fmt: skip
    reply = {"type": "message", "id": 7, "sender": "a", "sender_type": "claude", "content": "re: hidden",
             "visibility": "public", "message_type": "agent_response", "metadata": {},
             "timestamp": "2024-01-01T00:00:00.000000Z", "parent_message_id": 6}  # fmt: skip
    source = tmp_path / "partial.jsonl"
    source.write_text(json.dumps(session) + "\n" + json.dumps(reply) + "\n")
    done = await run_scsd("import", source, "--data-dir", tmp_path / "d")
    assert done.returncode == 0, done.stderr
    assert "message 7 replies to 6, which is not in the file" in done.stderr.decode()
    exported = _jsonl((await run_scsd("export", session["id"], "--data-dir", tmp_path / "d")).stdout)
    assert exported[1]["parent_message_id"] is None and exported[1]["content"] == "re: hidden"
