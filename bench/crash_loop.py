"""Crash loop: SIGKILL scsd under write load, restart, and check nothing acknowledged was lost.

    uv run python bench/crash_loop.py --rounds 20 --clients 10

Each round starts `python -m scsd serve` on the same data dir (new free ports), lets
`--clients` MCP writers add messages as fast as they are answered while a WebSocket
subscriber follows the session, and SIGKILLs the daemon 0.2-1.5 s in. After the restart it
checks, on the SQLite file itself: every acknowledged message is there with its content,
`PRAGMA integrity_check` is ok, ids follow insertion order and are never reused; and the
subscriber, resuming with `since_id` = its last id, ends with exactly the table's ids. The
last daemon is stopped with SIGTERM (exit 0, close code 1001). Prints a table, writes
bench/results/crash_loop.json, exits 1 if any round found a problem.
tests/test_crash.py runs the same loop for 3 rounds.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import trio

# The harness lives with the tests, which import it too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.kit.crash import (
    HTTP_TIMEOUT_SECONDS,
    START_SECONDS,
    STOP_SECONDS,
    Follower,
    WriterLog,
    content_of,
    create_session,
    mint_token,
    spawn_daemon,
    write_until_failure,
)

RESULTS: Final = Path(__file__).resolve().parent / "results" / "crash_loop.json"
KILL_WINDOW_SECONDS: Final = (0.2, 1.5)
HEADER: Final = "round  kill_s  acked in_doubt restart_s  writers ended by             check"


@dataclass(frozen=True)
class Table:
    """The session's messages as read straight from the file."""

    integrity: str
    ids: list[int]
    contents: dict[int, str]
    timestamps: list[int]
    sequence: int  # sqlite_sequence for messages: AUTOINCREMENT's high-water mark


def read_table(db_path: Path, session_id: str) -> Table:
    with closing(sqlite3.connect(db_path, timeout=10)) as db:
        integrity = "; ".join(row[0] for row in db.execute("PRAGMA integrity_check"))
        sql = "SELECT id, content, timestamp FROM messages WHERE session_id = ? ORDER BY id"
        rows = db.execute(sql, [session_id]).fetchall()
        seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
    ids = [r[0] for r in rows]
    return Table(integrity, ids, {r[0]: r[1] for r in rows}, [r[2] for r in rows], seq[0] if seq else 0)


def check_durable(table: Table, round_no: int, logs: list[WriterLog], before_max: int) -> list[str]:
    """Every problem found: lost or altered acks, ids reused or out of order, a corrupt file."""
    problems = [] if table.integrity == "ok" else [f"integrity_check: {table.integrity}"]
    for log in logs:
        for seq, message_id in log.acked:
            expected, found = content_of(round_no, log.writer, seq), table.contents.get(message_id)
            if found != expected:
                problems.append(f"acknowledged id {message_id} ({expected}) is {found!r} after restart")
        ids = [message_id for _, message_id in log.acked]
        if ids != sorted(set(ids)):
            problems.append(f"writer {log.writer}: ids not increasing with its own writes: {ids}")
        if ids and ids[0] <= before_max:
            problems.append(f"writer {log.writer}: new id {ids[0]} <= {before_max}, the max before")
        if log.rejected:
            problems.append(f"writer {log.writer}: success false: {log.rejected[0]}")
    if table.ids != sorted(set(table.ids)) or table.timestamps != sorted(table.timestamps):
        problems.append("ids do not follow insertion order (timestamps go backwards)")
    if table.ids and table.sequence < table.ids[-1]:
        problems.append(f"sqlite_sequence {table.sequence} is below the max id {table.ids[-1]}")
    return problems


def check_follower(follower: Follower, table: Table) -> list[str]:
    ids = follower.ids
    if ids == table.ids:
        return []
    missing = sorted(set(table.ids) - set(ids))
    dupes, ordered = len(ids) - len(set(ids)), ids == sorted(ids)
    return [f"subscriber: {len(ids)} ids, {dupes} duplicates, in order: {ordered}, missing {missing[:10]}"]


@dataclass
class RoundResult:
    """One SIGKILL round, as checked after the restart that followed it."""

    round_no: int
    kill_after_seconds: float
    acked: int  # add_message calls answered success: true
    in_doubt: int  # committed but never answered: killed between COMMIT and the reply
    restart_seconds: float  # spawn to "scsd ready" of the next daemon
    ended_by: dict[str, int]  # how the writers' loops ended
    problems: list[str]


async def crash_loop(
    workdir: Path, rounds: int, clients: int, rng: random.Random, report: Callable[[RoundResult], None]
) -> list[RoundResult]:
    """Run `rounds` SIGKILL rounds on `workdir`/data; `report` gets each round once checked."""
    data, results = workdir / "data", list[RoundResult]()
    token, follower, last = "", None, None
    for n in range(rounds + 1):
        spawned = trio.current_time()
        async with spawn_daemon(data, workdir / f"scsd-{n}.log") as daemon, trio.open_nursery() as nursery:
            restart_seconds = trio.current_time() - spawned
            if follower is None:
                token = mint_token(data, "crash-writer")
                follower = Follower(await create_session(daemon.mcp_url, token))
            with trio.fail_after(START_SECONDS):  # resume, then catch up with the file
                await nursery.start(follower.follow, daemon.ws_url, token)
                table = await trio.to_thread.run_sync(read_table, data / "scsd.db", follower.session_id)
                before_max = table.ids[-1] if table.ids else 0
                await follower.wait_for(before_max)
            problems = check_follower(follower, table)
            if last is not None:
                kill_after, logs, old_max = last
                acked = {message_id for log in logs for _, message_id in log.acked}
                ended_by = {e: sum(log.ended_by == e for log in logs) for e in {log.ended_by for log in logs}}
                in_doubt = sum(1 for i in table.ids if i > old_max and i not in acked)
                problems = check_durable(table, n - 1, logs, old_max) + problems
                results.append(
                    RoundResult(n - 1, kill_after, len(acked), in_doubt, restart_seconds, ended_by, problems)
                )
                report(results[-1])
            elif problems:
                raise AssertionError(problems)
            if n == rounds:
                daemon.proc.send_signal(signal.SIGTERM)
                with trio.fail_after(STOP_SECONDS):
                    status = await daemon.proc.wait()
                    closed = await follower.wait_closed(n + 1)
                if status != 0 or closed != 1001:
                    results[-1].problems.append(f"final SIGTERM: exit status {status}, close code {closed}")
                break
            kill_after = rng.uniform(*KILL_WINDOW_SECONDS)
            logs = [WriterLog(i) for i in range(clients)]
            with trio.fail_after(START_SECONDS + kill_after + HTTP_TIMEOUT_SECONDS):
                async with trio.open_nursery() as writers:
                    for log in logs:  # each opens its MCP session before the clock starts
                        await writers.start(
                            write_until_failure, daemon.mcp_url, token, follower.session_id, n, log
                        )
                    await trio.sleep(kill_after)  # the crash's random moment, not a wait for a condition
                    daemon.proc.kill()
            last = (kill_after, logs, before_max)
    return results


def _row(r: RoundResult) -> str:
    ended = ",".join(f"{k}:{v}" for k, v in sorted(r.ended_by.items()))
    verdict = "ok" if not r.problems else "; ".join(r.problems)
    return (
        f"{r.round_no:>5} {r.kill_after_seconds:>7.2f} {r.acked:>6} {r.in_doubt:>8}"
        f" {r.restart_seconds:>9.2f}  {ended:<28} {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20, help="SIGKILL rounds (default 20)")
    parser.add_argument("--clients", type=int, default=10, help="concurrent MCP writers (default 10)")
    parser.add_argument("--seed", type=int, default=None, help="seed for the kill moments")
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and logs here")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.clients < 1:
        parser.error("--rounds and --clients must be at least 1")
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"crash loop: {args.rounds} rounds, {args.clients} writers, seed {seed}")
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="scsd-crash-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        rng, report = random.Random(seed), lambda r: print(_row(r), flush=True)
        results = trio.run(crash_loop, workdir, args.rounds, args.clients, rng, report)
    failed = [r for r in results if r.problems]
    acked, in_doubt = sum(r.acked for r in results), sum(r.in_doubt for r in results)
    print(f"total: {acked} acknowledged, all present: {not failed}; {in_doubt} committed but unanswered")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "rounds": args.rounds, "clients": args.clients, "seed": seed, "acked": acked, "in_doubt": in_doubt,
        "failed_rounds": len(failed), "results": [asdict(r) for r in results],
    }  # fmt: skip
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
