"""`scsd status [--json]`: probe a running daemon's `/health`; the exit status says how it is.

The daemon is found as every subcommand finds it (`scsd.process.runtime.locate`): an explicit
`--port`, else the runtime file in the data dir (so a daemon on port 0 is found), else the
configured port.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

import httpx

from scsd.config import Config
from scsd.errors import StartupError
from scsd.process import net, runtime, tls

EXIT_OK: Final = 0
EXIT_DEGRADED: Final = 1
EXIT_NOT_RUNNING: Final = 3
EXIT_USAGE: Final = 2
PROBE_SECONDS: Final = 5.0


def health_url(config: Config) -> str:
    """Where the daemon configured by `config` answers `/health`; a wildcard bind address
    is probed on loopback."""
    return f"{net.local_url(config.host, config.port, tls=config.tls)}/health"


def probe(base_url: str, config: Config, seconds: float = PROBE_SECONDS) -> dict[str, Any] | None:
    """The health document of the scsd at `base_url`, or None if no scsd answers there.

    Raises:
        StartupError: the configured certificate cannot be read (TLS).
    """
    # With TLS, trust exactly the certificate the daemon is configured to serve.
    verify = True if config.certfile is None else tls.pinned_client_context(config.certfile)
    try:
        body = httpx.get(f"{base_url}/health", timeout=seconds, verify=verify).json()
    except (httpx.HTTPError, ValueError):
        return None
    return body if isinstance(body, dict) and "status" in body else None


def run(config: Config) -> int:
    """Print the daemon's health (or its JSON with `--json`).

    Returns:
        0 when the daemon reports "ok", 1 when it reports anything else, 3 when no scsd
        answers where it should, 2 when there is nowhere to look (port 0 and no daemon
        recorded in the data dir) or the TLS certificate cannot be read.
    """
    try:
        where = runtime.locate(config)
        body = probe(where.http_url, config)
    except StartupError as e:
        print(f"scsd: {e}", file=sys.stderr)
        return EXIT_USAGE
    for note in where.notes:
        print(f"scsd: {note}", file=sys.stderr)
    if body is None:
        print(f"scsd: no scsd answering at {where.http_url}; is it running? (scsd serve)", file=sys.stderr)
        return EXIT_NOT_RUNNING
    _add_database_size(body, config)
    if config.command_args.get("json"):
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print(render(body, where.http_url))
    return EXIT_OK if body["status"] == "ok" else EXIT_DEGRADED


def render(health: dict[str, Any], http_url: str) -> str:
    """The health document as a few aligned lines for a person."""
    ws = health.get("websocket") or {}
    watcher = health.get("watcher") or {}
    db = health.get("database") or {}
    lag = watcher.get("lag_seconds")
    counts = ", ".join(f"{db[k]} {k.replace('_', ' ')}" for k in ("sessions", "messages") if k in db)
    size = db.get("size_bytes")
    rows = [
        ("status", str(health.get("status"))),
        ("version", str(health.get("version"))),
        ("http", http_url),
        ("websocket", f"{'wss' if http_url.startswith('https:') else 'ws'}://"
                      f"{_url_host(str(ws.get('host')))}:{ws.get('port')}/ws"),
        ("connections", str(ws.get("connections"))),
        ("watcher", f"{watcher.get('status', '?')}, last id {watcher.get('last_id')}, "
                    f"lag {'-' if lag is None else f'{lag:.3f} s'}"),
        ("database", f"{db.get('status', '?')}, {db.get('path')}"),
        ("size", "unknown" if size is None else f"{size} bytes"),
    ]  # fmt: skip
    if counts:
        rows.append(("rows", counts))
    if "error" in db:
        rows.append(("error", str(db["error"])))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _add_database_size(health: dict[str, Any], config: Config) -> None:
    """Add `database.size_bytes` (the file plus its WAL) when the file is readable here."""
    db = health.setdefault("database", {})
    if not isinstance(db, dict) or "size_bytes" in db:
        return
    path = Path(str(db.get("path") or config.database))
    size = _file_size(path)
    if size is not None:
        db["size_bytes"] = size + (_file_size(path.with_name(path.name + "-wal")) or 0)


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
