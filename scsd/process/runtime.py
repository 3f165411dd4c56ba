"""The runtime file, `scsd.runtime.json` in the data dir: where the running daemon listens
(ports, URLs) and who it is (pid), written once it accepts connections and removed when it
stops, so that `scsd status`, `scsd client-config` and the like find a daemon started on
port 0. One file per data dir, owned by whoever is "the daemon" (a supervising parent, once
there are workers); a file whose process is gone (a crash, a kill -9) is stale: ignored by
readers, replaced by the next daemon.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from scsd.config import Config
from scsd.errors import StartupError
from scsd.model import Endpoints
from scsd.process import net

logger = logging.getLogger(__name__)

RUNTIME_FILENAME: Final = "scsd.runtime.json"


@dataclass(frozen=True)
class Runtime:
    """A daemon as its runtime file describes it. URLs are the ones a client on this machine
    uses (a wildcard bind is reached on loopback); `process_start` tells a reused pid apart."""

    pid: int
    process_start: int | None
    started_at: str
    version: str
    http_url: str
    mcp_url: str
    ui_url: str
    ws_url: str
    host: str
    port: int
    ws_host: str
    ws_port: int
    tls: bool

    @classmethod
    def of_this_process(cls, endpoints: Endpoints, version: str) -> Runtime:
        http = net.local_url(endpoints.http_host, endpoints.http_port, tls=endpoints.tls)
        ws = net.local_url(endpoints.ws_host, endpoints.ws_port, tls=endpoints.tls, websocket=True)
        return cls(
            pid=os.getpid(),
            process_start=_process_start(os.getpid()),
            started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            version=version,
            http_url=http,
            mcp_url=f"{http}/mcp",
            ui_url=f"{http}/ui/",
            ws_url=f"{ws}/ws",
            host=endpoints.http_host,
            port=endpoints.http_port,
            ws_host=endpoints.ws_host,
            ws_port=endpoints.ws_port,
            tls=endpoints.tls,
        )

    def alive(self) -> bool:
        """Whether the process that wrote this is still running (and is still that process)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # alive, another user's
        start = _process_start(self.pid)
        return self.process_start is None or start is None or start == self.process_start


@dataclass(frozen=True)
class Found:
    """What a data dir says about its daemon: the live one's `runtime`, or None with a
    `note` saying why a file there was ignored (None when there is no file)."""

    runtime: Runtime | None
    note: str | None = None


@dataclass(frozen=True)
class Located:
    """Where a subcommand reaches the daemon: base URLs, and `notes` for the user (a stale
    file ignored); `recorded` says the runtime file told, not the configuration."""

    http_url: str
    ws_url: str
    recorded: bool
    notes: tuple[str, ...] = ()


def locate(config: Config) -> Located:
    """Where the daemon of `config` answers: at an explicitly configured port (flag, variable
    or file) if one is given; else where the daemon recorded in the data dir listens; else at
    the configured (default) port.

    Raises:
        StartupError: the port is 0 and no running daemon is recorded in the data dir.
    """
    found = find(config.data_dir)
    notes = () if found.note is None else (found.note,)
    explicit = "port" in config.sources and config.port != 0
    if found.runtime is not None and not explicit:
        return Located(found.runtime.http_url, found.runtime.ws_url, True, notes)
    if config.port == 0:
        why = "" if found.note is None else f" ({found.note})"
        raise StartupError(
            f"no running scsd is recorded in {config.data_dir}{why}, and the port is 0 (any free "
            "port): start the daemon, pass the --data-dir it uses, or pass --port with the port it bound"
        )
    http = net.local_url(config.host, config.port, tls=config.tls)
    ws = net.local_url(config.ws_host, config.ws_port, tls=config.tls, websocket=True)
    return Located(http, f"{ws}/ws", False, notes)


def path_in(data_dir: Path) -> Path:
    return data_dir / RUNTIME_FILENAME


def find(data_dir: Path) -> Found:
    """The daemon recorded in `data_dir`, if it is still running."""
    path = path_in(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        runtime = Runtime(**{k: data[k] for k in Runtime.__dataclass_fields__})
    except FileNotFoundError:
        return Found(None)
    except (OSError, ValueError, KeyError, TypeError) as e:
        return Found(None, f"ignoring the unreadable runtime file {path} ({e})")
    if not runtime.alive():
        return Found(None, f"ignoring the stale runtime file {path}: its daemon (pid {runtime.pid}) is gone")
    return Found(runtime)


@contextlib.contextmanager
def recorded(data_dir: Path, endpoints: Endpoints, version: str) -> Iterator[Runtime | None]:
    """Record this process as the daemon of `data_dir` while the block runs; yields what was
    written, or None when another live daemon already owns the file (it keeps it) or the file
    cannot be written (logged: subcommands then use the configured address)."""
    runtime = _claim(data_dir, Runtime.of_this_process(endpoints, version))
    try:
        yield runtime
    finally:
        if runtime is not None:
            _release(data_dir, runtime)


def _claim(data_dir: Path, ours: Runtime) -> Runtime | None:
    found = find(data_dir)
    if found.runtime is not None and found.runtime.pid != ours.pid:
        logger.info(
            "another scsd (pid %d) is recorded for %s at %s; subcommands will find that one",
            found.runtime.pid,
            data_dir,
            found.runtime.http_url,
        )
        return None
    if found.note is not None:
        logger.info("%s; replacing it", found.note)
    try:
        _write_atomically(path_in(data_dir), asdict(ours))
    except OSError as e:
        logger.warning(
            "cannot write %s (%s): subcommands will not find this daemon; pass them --port",
            path_in(data_dir),
            e.strerror,
        )
        return None
    return ours


def _release(data_dir: Path, ours: Runtime) -> None:
    """Remove the file if it is still ours (never a file another daemon wrote since)."""
    path = path_in(data_dir)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == ours.pid:
            path.unlink()
    except (OSError, ValueError) as e:
        logger.warning("cannot remove %s: %s", path, e)


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Readers see the old file or the whole new one, never half of it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _process_start(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (Linux); None where /proc has no answer."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22, starttime
    except (IndexError, ValueError):
        return None
