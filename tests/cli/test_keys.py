"""Tests for `scsd keys show|rotate`: what is printed, the 0600 file rewritten atomically, and
what a daemon started after a rotation accepts and refuses."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import pytest
import trio

from scsd import daemon
from scsd.cli.main import main
from scsd.config import Config
from scsd.process.keyfile import SECRETS_FILENAME, rotate_secrets
from scsd.process.sdnotify import Notifier
from tests.kit.clients import McpHttp
from tests.kit.daemon import Running, make_config

START_SECONDS: Final = 30.0
CALL_SECONDS: Final = 30.0
FIELDS: Final = ("api_key", "admin_key", "jwt_secret")
ENV_API_KEY: Final = "env-agent-key-0123456789"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str, **environ: str) -> tuple[int, str, str]:
    """Run `scsd ARGV` in-process; main() sets the umask, so put the test's back afterwards."""
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        status = main(list(argv), environ)
    finally:
        os.umask(umask)
    out, err = capsys.readouterr()
    return status, out, err


def _stored(data_dir: Path) -> dict[str, str]:
    stored: dict[str, str] = json.loads((data_dir / SECRETS_FILENAME).read_text(encoding="utf-8"))
    return stored


def _printed(out: str) -> dict[str, str]:
    """`name: value` lines of the output, by name."""
    return dict(re.findall(r"^(api_key|admin_key|jwt_secret):\s+(\S+)", out, flags=re.MULTILINE))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@asynccontextmanager
async def _daemon(nursery: trio.Nursery, config: Config) -> AsyncIterator[str]:
    """A daemon started now (after the test's rotation), as the `running` fixture starts one;
    yields its MCP URL."""
    stop = trio.Event()
    with trio.fail_after(START_SECONDS):
        endpoints = await nursery.start(daemon.run, config, stop.wait, Notifier({}))
    try:
        yield f"{endpoints.http_url}/mcp"
    finally:
        stop.set()


def test_show_prints_the_files_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    status, out, _ = _cli(capsys, "keys", "show", "--data-dir", str(data_dir))
    assert status == 0
    assert f"secrets file: {data_dir / SECRETS_FILENAME}" in out
    assert _printed(out) == _stored(data_dir)
    assert "overridden" not in out
    assert _mode(data_dir / SECRETS_FILENAME) == 0o600  # show on a fresh dir creates it, as serve would


def test_show_says_which_values_the_environment_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    status, out, _ = _cli(
        capsys, "keys", "show", "--data-dir", str(data_dir), SHARED_CONTEXT_API_KEY=ENV_API_KEY
    )
    assert status == 0
    shown = _printed(out)
    assert shown["api_key"] == ENV_API_KEY  # what the daemon would use
    assert shown["admin_key"] == _stored(data_dir)["admin_key"]
    (line,) = [line for line in out.splitlines() if "overridden" in line]
    assert line.startswith("api_key:") and "SHARED_CONTEXT_API_KEY" in line


@pytest.mark.parametrize(
    ("which", "changed"), [("jwt", {"jwt_secret"}), ("admin", {"admin_key"}), ("all", set(FIELDS))]
)
def test_rotate_changes_only_what_was_asked_and_keeps_the_file_private(
    which: str, changed: set[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    _cli(capsys, "keys", "show", "--data-dir", str(data_dir))
    before = _stored(data_dir)
    status, out, err = _cli(capsys, "keys", "rotate", "--which", which, "--data-dir", str(data_dir))
    assert status == 0, err
    after = _stored(data_dir)
    assert {name for name in FIELDS if after[name] != before[name]} == changed
    assert _printed(out) == {name: after[name] for name in changed}
    assert after["api_key"].startswith("scsd_agent_") and after["admin_key"].startswith("scsd_admin_")
    assert "restart" in out and "effect:" in out
    assert _mode(data_dir / SECRETS_FILENAME) == 0o600
    assert sorted(p.name for p in data_dir.iterdir()) == [SECRETS_FILENAME]  # no temp file left


def test_rotate_defaults_to_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    _cli(capsys, "keys", "show", "--data-dir", str(data_dir))
    before = _stored(data_dir)
    assert _cli(capsys, "keys", "rotate", "--data-dir", str(data_dir))[0] == 0
    assert all(_stored(data_dir)[name] != before[name] for name in FIELDS)


def test_rotated_file_is_0600_even_with_a_permissive_umask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _cli(capsys, "keys", "show", "--data-dir", str(tmp_path))
    path = tmp_path / SECRETS_FILENAME
    path.chmod(0o600)
    old = os.umask(0)
    try:
        rotate_secrets(path, ["jwt_secret"])
    finally:
        os.umask(old)
    assert _mode(path) == 0o600


def test_rotate_warns_that_the_environment_still_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    status, out, err = _cli(capsys, "keys", "rotate", "--which", "api", "--data-dir", str(data_dir),
                            SHARED_CONTEXT_API_KEY=ENV_API_KEY)  # fmt: skip
    assert status == 0
    assert _printed(out)["api_key"] == _stored(data_dir)["api_key"] != ENV_API_KEY
    assert "SHARED_CONTEXT_API_KEY" in err and "still wins" in err


@pytest.mark.parametrize("action", ["show", "rotate"])
def test_unusable_data_dir_is_one_line_and_status_2(
    action: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    status, out, err = _cli(capsys, "keys", action, "--data-dir", str(blocker / "data"))
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and str(blocker / "data") in err


def test_corrupt_secrets_file_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / SECRETS_FILENAME).write_text("{not json", encoding="utf-8")
    status, out, err = _cli(capsys, "keys", "rotate", "--data-dir", str(tmp_path))
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and "not valid JSON" in err
    assert (tmp_path / SECRETS_FILENAME).read_text(encoding="utf-8") == "{not json"  # left alone


async def test_rotated_jwt_secret_invalidates_issued_tokens_after_restart(
    nursery: trio.Nursery, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(tmp_path)
    status, out, _ = _cli(capsys, "client-config", "generic", "--data-dir", str(config.data_dir))
    assert status == 0
    headers = json.loads(out)["headers"]  # a token minted with the old secret
    assert _cli(capsys, "keys", "rotate", "--which", "jwt", "--data-dir", str(config.data_dir))[0] == 0
    async with _daemon(nursery, config) as url:
        with trio.fail_after(CALL_SECONDS):
            stale = await McpHttp(url, {"Authorization": headers["Authorization"]}).call("list_sessions")
            assert stale["code"] == "TOKEN_AUTHENTICATION_FAILED", stale
            # The agent key did not change: the agent gets a token that works.
            fresh = await McpHttp(url, {"X-API-Key": headers["X-API-Key"]}).call(
                "authenticate_agent", agent_id="agent", agent_type="claude"
            )
            assert fresh["success"], fresh
            listed = await McpHttp(url, {"Authorization": f"Bearer {fresh['token']}"}).call("list_sessions")
            assert listed["success"], listed


async def test_rotated_api_key_refuses_the_old_key_once_restarted(
    nursery: trio.Nursery, running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = running.config.data_dir
    old_key = running.secrets["api_key"]
    status, out, _ = _cli(capsys, "client-config", "generic", "--data-dir", str(data_dir))
    old_token = json.loads(out)["headers"]["Authorization"]
    status, out, _ = _cli(capsys, "keys", "rotate", "--which", "api", "--data-dir", str(data_dir))
    assert status == 0
    new_key = _printed(out)["api_key"]
    assert new_key == _stored(data_dir)["api_key"] != old_key

    async def authenticate(url: str, key: str) -> dict[str, object]:
        with trio.fail_after(CALL_SECONDS):
            return await McpHttp(url, {"X-API-Key": key}).call(
                "authenticate_agent", agent_id="a", agent_type="claude"
            )

    # The daemon that was already running keeps its keys until it is restarted.
    assert (await authenticate(running.mcp_url, old_key))["success"]
    async with _daemon(nursery, running.config) as url:  # the "restarted" daemon, same data dir
        refused = await authenticate(url, old_key)
        assert refused["code"] == "AUTH_FAILED", refused
        assert (await authenticate(url, new_key))["success"]
        with trio.fail_after(CALL_SECONDS):  # tokens issued before the rotation stay valid
            kept = await McpHttp(url, {"Authorization": old_token}).call("list_sessions")
        assert kept["success"], kept
