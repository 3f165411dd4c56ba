"""How soon a watching browser page is live again after the daemon comes back (issue 16).

    uv run python bench/ui_recovery.py --runs 5 --down 10

Starts `python -m scsd serve` on fixed free ports, opens a session page in headless Debian
Chromium (Playwright), then per run: SIGKILLs the daemon by its PID, keeps it down `--down`
seconds (the page backs off to its cap meanwhile), starts it again on the same ports and takes
the time from the daemon's ready line to the page saying "live" (the page's own `Date.now()`
at that moment, `#connection[data-live-at]`; same machine, same clock). Baseline, in the same
run: a fresh page opened against the running daemon, from `goto` to live: what no reconnect
can beat. Also checks that the messages written while it was down are shown once. Prints a
table, writes bench/results/ui_recovery.json.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import httpx
import trio
from benchkit import print_table, ratio, write_results
from playwright.sync_api import Page, sync_playwright

from scsd.model import Identity
from scsd.store import open_store
from tests.kit.crash import (  # the repository root is on the path: benchkit puts it there
    FixedPortDaemon,
    mint_token,
)

CHROMIUM: Final = "/usr/bin/chromium"
LIVE: Final = "Real-time updates active"
WAIT_MS: Final = 60_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def call(url: str, token: str, tool: str, **args: Any) -> dict[str, Any]:
    """One MCP tool call over plain Streamable HTTP JSON-RPC (initialize, then the call)."""
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
               "Authorization": f"Bearer {token}"}  # fmt: skip
    with httpx.Client(timeout=30) as c:
        hello = {
            "protocolVersion": "2025-03-26",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        }
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello}
        r = c.post(url, headers=headers, json=init)
        if sid := r.headers.get("mcp-session-id"):
            headers["mcp-session-id"] = sid
        c.post(url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        what = {"name": tool, "arguments": args}
        body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": what}
        text = c.post(url, headers=headers, json=body).text
    if "data:" in text:
        text = [line[5:] for line in text.splitlines() if line.startswith("data:")][-1]
    reply: dict[str, Any] = json.loads(json.loads(text)["result"]["content"][0]["text"])
    return reply


def sign_in(page: Page, key: str) -> None:
    page.goto("/ui/login")
    page.fill("#key", key)
    page.fill("#agent_id", "bench")
    page.click("#sign-in")
    page.wait_for_url("**/ui/")


def live_at(page: Page) -> float:
    page.locator("#live-status", has_text=LIVE).wait_for(timeout=WAIT_MS)
    return float(page.eval_on_selector("#connection", "e => e.dataset.liveAt")) / 1000


async def write_while_down(database: Path, sid: str, content: str) -> None:
    async with open_store(database) as store:
        writer = Identity("alice", "claude", frozenset({"read", "write"}))
        await store.add_message(sid, writer, content, "public", {}, None)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--down", type=float, default=10.0, help="seconds the daemon stays down per run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scsd-ui-recovery-") as tmp:
        root = Path(tmp)
        daemon = FixedPortDaemon(root / "data", root, free_port(), free_port())
        daemon.start()
        try:
            rows = measure(daemon, args.runs, args.down)
        finally:
            daemon.stop()
    recovery = [r["recovery_s"] for r in rows]
    cold = [r["cold_s"] for r in rows]
    med_recovery, med_cold = statistics.median(recovery), statistics.median(cold)
    print_table(["run", "down s", "recovery s", "cold page s", "max backoff ms", "missed shown once"],
                [[i + 1, r["down_s"], r["recovery_s"], r["cold_s"], r["max_backoff_ms"], r["once"]]
                 for i, r in enumerate(rows)])  # fmt: skip
    times = ratio(med_recovery, med_cold)
    print(
        f"median: live again {med_recovery:.3f} s after the daemon was ready; "
        f"a fresh page {med_cold:.3f} s (x{times:.2f})"
    )
    summary = {"median_recovery_s": med_recovery, "median_cold_s": med_cold, "ratio": times}
    path = write_results("ui_recovery", vars(args), {"runs": rows, **summary})
    print(f"wrote {path}")
    return 0 if all(r["once"] for r in rows) else 1


def measure(daemon: FixedPortDaemon, runs: int, down: float) -> list[dict[str, Any]]:
    http, _ = daemon.ports
    url = f"http://127.0.0.1:{http}"
    keys = json.loads((daemon.data_dir / "secrets.json").read_text())
    token = mint_token(daemon.data_dir, "alice")
    sid = call(url + "/mcp", token, "create_session", purpose="recovery bench")["session_id"]
    rows: list[dict[str, Any]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(base_url=url)
        page = context.new_page()
        sign_in(page, keys["api_key"])
        page.goto(f"/ui/sessions/{sid}")
        live_at(page)
        for n in range(runs):
            killed = time.monotonic()
            daemon.kill()
            page.locator("#live-status", has_text="Reconnecting").wait_for(timeout=WAIT_MS)
            trio.run(write_while_down, daemon.data_dir / "scsd.db", sid, f"during run {n}")
            page.wait_for_timeout(max(0.0, down - (time.monotonic() - killed)) * 1000)
            restarted = time.monotonic()
            ready = daemon.start()
            back = live_at(page)
            call(url + "/mcp", token, "add_message", session_id=sid, content=f"after run {n}")
            page.locator("#messages .content", has_text=f"after run {n}").wait_for(timeout=WAIT_MS)
            ids = page.eval_on_selector_all("#messages > li", "els => els.map(e => Number(e.dataset.id))")
            missed = page.locator("#messages .content", has_text=f"during run {n}").count()
            fresh = context.new_page()  # the baseline: a page opened now, from goto to live
            started = time.time()
            fresh.goto(f"/ui/sessions/{sid}")
            cold = live_at(fresh) - started
            fresh.close()
            rows.append({
                "down_s": round(restarted - killed, 2), "recovery_s": round(back - ready, 3),
                "cold_s": round(cold, 3), "once": missed == 1 and ids == sorted(set(ids)),
                "max_backoff_ms": float(page.eval_on_selector("#connection", "e => e.dataset.maxBackoffMs")),
            })  # fmt: skip
        browser.close()
    return rows


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
