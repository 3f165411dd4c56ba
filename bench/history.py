"""History at scale: get_messages(since_id) and search_context over a large database.

    uv run python bench/history.py [--messages 1000000] [--sessions 100] [--queries 50]

Generates the database straight into SQLite through the real schema: `scsd.store.open_store`
runs the migrations, then messages and their `messages_fts` rows (text from
`scsd.textfold.searchable`, session column from `scsd.schema.fts_session`, exactly as
scsd/store/messages.py writes them) are bulk-inserted in one transaction. Messages are spread
evenly over `--sessions` sessions, interleaved as real traffic would be.

Then calls the tool functions in-process (`scsd.mcp_tools.tool_functions(svc)`, the plain
async functions FastMCP wraps: no HTTP, no JSON-RPC) with a real token, timing each call:
- get_messages tail: since_id = a session's newest id minus 10 (an agent catching up);
- get_messages first page: since_id = 0, limit 50 (counts the whole session for total_count);
- search_context: a word present in ~1 % of messages, a misspelt one, and two common words
  (each in ~1/4 of the messages: the costliest kind of query for the index).
Baseline, same run: get_usage_guidance through the same path (validation, token, no SQL).
SPEC §8: with 1,000,000 messages, get_messages(since_id) p50 ≤ 5 ms, search_context ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
from benchkit import median_of, print_table, ratio, summary_ms, write_results

from scsd.access.gatekeeper import Gatekeeper
from scsd.access.tokens import Authority
from scsd.mcp.server import tool_functions
from scsd.mcp.tools import Services
from scsd.model import Identity
from scsd.realtime.composing import Gate, TypingSignals
from scsd.realtime.hub import Hub
from scsd.store import now_micros, open_store
from scsd.store.schema import fts_session
from scsd.store.textfold import searchable

RAW = argparse.RawDescriptionHelpFormatter
WORDS = [
    "build",
    "test",
    "deploy",
    "review",
    "merge",
    "branch",
    "commit",
    "refactor",
    "cache",
    "index",
    "query",
    "latency",
    "socket",
    "session",
    "agent",
    "memory",
    "token",
    "schema",
    "migration",
    "release",
    "rollback",
    "patch",
    "bug",
    "fix",
    "feature",
    "plan",
    "design",
    "api",
    "client",
    "server",
    "worker",
    "queue",
    "retry",
    "timeout",
    "config",
    "logging",
    "metrics",
    "trace",
    "profile",
    "database",
    "sqlite",
    "websocket",
    "stream",
    "event",
    "handler",
    "parser",
    "lexer",
    "compiler",
    "runtime",
    "thread",
    "lock",
]
RARE = "deadlock"  # in ~1 % of messages
COMMON_WORDS = "compiler runtime"  # each word in ~1/4 of messages
BATCH = 20_000


def session_ids(sessions: int, seed: int = 6) -> list[str]:
    """Random hex ids, as scsd makes them (sequential ids would share trigrams such as
    "000", which makes the index's session filter match every row)."""
    rng = random.Random(seed)
    return [f"session_{rng.getrandbits(64):016x}" for _ in range(sessions)]


def generate(path: Path, messages: int, sessions: int, seed: int = 6) -> float:
    """Create the database at `path` with `messages` messages; seconds taken."""
    started = time.perf_counter()

    async def migrate() -> None:
        async with open_store(path):
            pass

    trio.run(migrate)
    import sqlite3

    rng = random.Random(seed)
    sids = session_ids(sessions, seed)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN IMMEDIATE")
        now = now_micros() - messages * 1000
        conn.executemany(
            "INSERT INTO sessions (id, purpose, created_by, created_at, updated_at, metadata)"
            " VALUES (?, ?, 'bench', ?, ?, '{}')",
            [(sid, f"bench {sid}", now, now) for sid in sids],
        )
        for start in range(1, messages + 1, BATCH):
            rows, fts = [], []
            for message_id in range(start, min(start + BATCH, messages + 1)):
                sid = sids[message_id % sessions]
                words = rng.choices(WORDS, k=rng.randint(8, 24))
                if rng.random() < 0.01:
                    words[rng.randrange(len(words))] = RARE
                content = " ".join(words)
                sender = f"agent-{message_id % 7}"
                metadata: dict[str, Any] = {"step": message_id % 13} if message_id % 5 == 0 else {}
                rows.append(
                    (message_id, sid, sender, "claude", content, json.dumps(metadata), now + message_id)
                )
                fts.append((message_id, searchable(sender, content, metadata, True), fts_session(sid)))
            conn.executemany(
                "INSERT INTO messages (id, session_id, sender, sender_type, content, visibility,"
                " message_type, metadata, timestamp)"
                " VALUES (?, ?, ?, ?, ?, 'public', 'agent_response', ?, ?)",
                rows,
            )
            conn.executemany("INSERT INTO messages_fts (rowid, text, sid) VALUES (?, ?, ?)", fts)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - started


async def measure(path: Path, queries: int, runs: int) -> dict[str, Any]:
    """Per operation, latency p50/p99 (ms) per run and the median over runs."""
    async with open_store(path) as store:
        authority = Authority("bench-api", "bench-admin", "bench-jwt-secret-" + "z" * 32, 3600)
        token = authority.issue(Identity("bench", "claude", frozenset({"read", "write"}))).token
        svc = Services(
            store, Hub(256), Gatekeeper(authority, store.is_revoked), TypingSignals(store, Gate()), dict
        )
        tools = {fn.__name__: fn for fn in tool_functions(svc)}
        sids = await _session_ids(store)
        newest = {sid: await store.last_message_id(sid) for sid in sids}
        rng = random.Random(7)

        def tail() -> Awaitable[Any]:
            sid = rng.choice(sids)
            return tools["get_messages"](sid, since_id=max(0, newest[sid] - 10), auth_token=token)

        def first_page() -> Awaitable[Any]:
            return tools["get_messages"](rng.choice(sids), since_id=0, limit=50, auth_token=token)

        def search() -> Awaitable[Any]:
            return tools["search_context"](rng.choice(sids), RARE, auth_token=token)

        def search_typo() -> Awaitable[Any]:
            return tools["search_context"](rng.choice(sids), "dedlock", auth_token=token)

        def search_words() -> Awaitable[Any]:
            return tools["search_context"](rng.choice(sids), COMMON_WORDS, auth_token=token)

        def noop() -> Awaitable[Any]:
            return tools["get_usage_guidance"](auth_token=token)

        ops: dict[str, Callable[[], Awaitable[Any]]] = {
            "get_usage_guidance": noop,
            "get_messages_tail": tail,
            "get_messages_first_page": first_page,
            "search_context": search,
            "search_context_typo": search_typo,
            "search_context_words": search_words,
        }
        per_run: dict[str, list[dict[str, float]]] = {name: [] for name in ops}
        for _ in range(runs):
            for name, op in ops.items():
                await _timed(op)  # warm-up
                times = [await _timed(op) for _ in range(queries)]
                per_run[name].append(summary_ms(times))
    return {name: {"median": median_of(rows), "runs": rows} for name, rows in per_run.items()}


async def _session_ids(store: Any) -> list[str]:
    def run(db: Any) -> list[str]:
        return [str(r[0]) for r in db.execute("SELECT id FROM sessions ORDER BY id")]

    ids: list[str] = await store._call(run)
    return ids


async def _timed(op: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    reply = await op()
    elapsed = time.perf_counter() - started
    assert reply.get("success") is True, reply
    return elapsed


def table(results: dict[str, Any]) -> None:
    base = results["get_usage_guidance"]["median"]["p50"]
    rows = []
    for name, r in results.items():
        m = r["median"]
        rows.append([name, m["p50"], m["p99"], m["max"], ratio(m["p50"], base)])
    print_table(["operation", "p50 ms", "p99 ms", "max ms", "x noop p50"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RAW)
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages (default 1,000,000)")
    parser.add_argument("--sessions", type=int, default=100, help="sessions (default 100)")
    parser.add_argument("--queries", type=int, default=50, help="calls per operation per run (default 50)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--db", type=Path, help="reuse (or create) this database file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scsd-history-") as tmp:
        path = args.db or Path(tmp) / "history.db"
        generated = 0.0
        if not path.exists():
            generated = generate(path, args.messages, args.sessions)
            print(f"generated {args.messages} messages in {generated:.1f} s", flush=True)
        results = trio.run(measure, path, args.queries, args.runs)
        size = path.stat().st_size
    table(results)
    out = {"generate_seconds": generated, "db_bytes": size, **results}
    print("wrote", write_results("history", {**vars(args), "db": str(args.db)}, out))


if __name__ == "__main__":
    main()
