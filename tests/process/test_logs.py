"""Log lines: JSON with `--log-format json`, one object a line, and no secret in any line."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Final

import jwt
import pytest
import trio

from scsd import daemon
from scsd.config.load import load_config
from scsd.errors import ConfigError
from scsd.process.logs import REDACTED, SecretFilter, handler
from scsd.process.sdnotify import Notifier
from tests.kit.daemon import make_config

TS: Final = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
AGENT_KEY: Final = "scsd_agent_" + "A1b2-C3d4_" * 4
ENV_SECRET: Final = "an-operator-chosen-secret-42"


Capture = tuple[logging.Logger, io.StringIO, SecretFilter]


@pytest.fixture
def capture() -> Iterator[Capture]:
    """A private logger writing JSON lines to a buffer: (logger, buffer, its secret filter)."""
    out, secrets = io.StringIO(), SecretFilter()
    log = logging.getLogger(f"test.logs.{id(out)}")
    log.propagate, log.level = False, logging.DEBUG
    log.addHandler(handler("json", secrets, out))
    try:
        yield log, out, secrets
    finally:
        log.handlers.clear()


def _lines(out: io.StringIO) -> list[dict[str, str]]:
    text = out.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_json_is_one_object_per_line(capture: Capture) -> None:
    log, out, _ = capture
    log.info("hello %s", "world\nwith a newline")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("it broke")
    log.warning("ünïcode")
    records = _lines(out)
    assert len(records) == 3
    assert [r["level"] for r in records] == ["INFO", "ERROR", "WARNING"]
    assert records[0]["message"] == "hello world\nwith a newline"
    assert records[0]["logger"] == log.name
    assert all(TS.match(r["ts"]) for r in records), records
    assert set(records[0]) == {"ts", "level", "logger", "message"}
    assert "ZeroDivisionError" in records[1]["exc_info"] and "Traceback" in records[1]["exc_info"]
    assert records[2]["message"] == "ünïcode"


def test_text_format_keeps_the_classic_line() -> None:
    out, secrets = io.StringIO(), SecretFilter()
    log = logging.getLogger("test.logs.text")
    log.propagate = False
    log.addHandler(handler("text", secrets, out))
    try:
        log.warning("key %s", AGENT_KEY)
    finally:
        log.handlers.clear()
    line = out.getvalue()
    assert line.endswith(f" WARNING test.logs.text: key {REDACTED}\n") and line.count("\n") == 1
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", line), line


def test_jwts_generated_keys_and_registered_secrets_are_masked(
    capture: Capture,
) -> None:
    log, out, secrets = capture
    token = jwt.encode({"agent_id": "alice", "exp": 2_000_000_000}, "s" * 32, algorithm="HS256")
    admin = "scsd_admin_" + "Zz9-_" * 8
    secrets.add(ENV_SECRET)
    log.info("token=%s", token)
    log.info("Authorization: Bearer %s; X-API-Key: %s", token, AGENT_KEY)
    log.info("admin %s, custom %s.", admin, ENV_SECRET)
    try:
        raise ValueError(f"bad key {ENV_SECRET}")
    except ValueError:
        log.exception("failed with %s", admin)
    log.info("nothing secret: eyJ is just a prefix, scsd_agent is a word")
    text = out.getvalue()
    for secret in (token, AGENT_KEY, admin, ENV_SECRET, token.split(".")[2]):
        assert secret not in text
    records = _lines(out)
    assert records[0]["message"] == f"token={REDACTED}"
    assert records[1]["message"] == f"Authorization: Bearer {REDACTED}; X-API-Key: {REDACTED}"
    assert records[2]["message"] == f"admin {REDACTED}, custom {REDACTED}."
    assert f"bad key {REDACTED}" in records[3]["exc_info"]
    assert records[4]["message"] == "nothing secret: eyJ is just a prefix, scsd_agent is a word"


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--log-format", "xml"], {}, "--log-format"),
        ([], {"SHARED_CONTEXT_LOG_FORMAT": "yaml"}, "SHARED_CONTEXT_LOG_FORMAT"),
    ],
)
def test_bad_log_format_names_the_flag(
    tmp_path: Path, argv: list[str], env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(argv, {"HOME": str(tmp_path), **env})


def test_log_format_layers(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    toml = tmp_path / "scsd.toml"
    toml.write_text('log_format = "json"\n')
    assert load_config([], home).log_format == "text"
    assert load_config(["--config", str(toml)], home).log_format == "json"
    assert load_config([], {**home, "SHARED_CONTEXT_LOG_FORMAT": "JSON"}).log_format == "json"
    assert (
        load_config(["--log-format", "text"], {**home, "SHARED_CONTEXT_LOG_FORMAT": "json"}).log_format
        == "text"
    )


async def test_daemon_registers_its_secrets_for_redaction(nursery: trio.Nursery, tmp_path: Path) -> None:
    seen: list[str] = []
    stop = trio.Event()
    with trio.fail_after(30):
        await nursery.start(
            partial(daemon.run, redact=seen.append), make_config(tmp_path), stop.wait, Notifier({})
        )
    stop.set()
    stored = json.loads((tmp_path / "data" / "secrets.json").read_text())
    assert sorted(seen) == sorted(stored.values())


async def test_process_writes_only_json_lines(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHARED_CONTEXT_", "LOG_LEVEL", "NOTIFY_SOCKET"))
    }
    env["SHARED_CONTEXT_JWT_SECRET"] = ENV_SECRET
    argv = [sys.executable, "-m", "scsd", "--data-dir", str(tmp_path), "--port", "0", "--ws-port", "0"]
    argv += ["--log-format", "json", "--log-level", "DEBUG"]
    proc = await trio.lowlevel.open_process(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, env=env)  # fmt: skip
    assert proc.stderr is not None
    buf = b""
    try:
        with trio.fail_after(30):
            while b"scsd ready" not in buf:
                chunk = await proc.stderr.receive_some()
                assert chunk, buf.decode(errors="replace")
                buf += chunk
            proc.send_signal(signal.SIGTERM)
            while chunk := await proc.stderr.receive_some():
                buf += chunk
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
    text = buf.decode()
    records = [json.loads(line) for line in text.splitlines()]
    assert any(r["message"].startswith("scsd ready") for r in records)
    assert any(r["message"] == "received SIGTERM" for r in records)
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    stored = json.loads((tmp_path / "secrets.json").read_text())
    for secret in [*stored.values(), ENV_SECRET]:
        assert secret not in text
