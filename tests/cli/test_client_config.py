"""Tests for `scsd client-config`: each client's format parses, and the printed configs work
against a real daemon (HTTP with the Bearer header alone, re-authentication with X-API-Key,
and the stdio command spawned for real)."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Final

import pytest
import trio

from scsd.access.tokens import Authority
from scsd.cli.client_config import mcp_url
from scsd.cli.main import main
from scsd.config.args import CLIENTS
from scsd.model import Identity
from tests.kit.cli import server_entry
from tests.kit.clients import McpHttp, McpStdio
from tests.kit.daemon import Running

CALL_SECONDS: Final = 60.0  # a stdio client spawns `scsd stdio`, whose imports take seconds
STDIO_CLIENTS: Final = ("claude-desktop", "codex")


async def _cli_beside(capsys: pytest.CaptureFixture[str], *argv: str, **environ: str) -> tuple[int, str, str]:
    """`_cli` in a worker thread, so that the in-process daemon can answer its probe."""
    return await trio.to_thread.run_sync(lambda: _cli(capsys, *argv, **environ))


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


def _secrets(data_dir: Path) -> dict[str, str]:
    secrets: dict[str, str] = json.loads((data_dir / "secrets.json").read_text(encoding="utf-8"))
    return secrets


def _authority(data_dir: Path) -> Authority:
    s = _secrets(data_dir)
    return Authority(s["api_key"], s["admin_key"], s["jwt_secret"], 3600)


def _stdio_env() -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SHARED_CONTEXT_", "LOG_LEVEL"))}
    return inherited | {"LOG_LEVEL": "WARNING", "FASTMCP_LOG_LEVEL": "WARNING"}  # quiet child stderr


def _argv(running: Running, client: str, *extra: str) -> list[str]:
    return ["client-config", client, "--data-dir", str(running.config.data_dir),
            "--port", str(running.endpoints.http_port), *extra]  # fmt: skip


@pytest.mark.parametrize("client", CLIENTS)
def test_every_client_prints_a_config_that_parses(
    client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    status, out, err = _cli(capsys, "client-config", client, "--data-dir", str(data_dir), "--port", "4567")
    assert status == 0, err
    server = server_entry(client, out)
    if client in STDIO_CLIENTS:
        assert Path(server["command"]).is_absolute()
        args = server["args"]
        assert args[args.index("stdio") :] == ["stdio", "--agent-id", "agent", "--agent-type", "claude",
                                              "--data-dir", str(data_dir)]  # fmt: skip
        assert "Authorization" not in out  # stdio needs no credentials
        return
    assert server["url"] == "http://127.0.0.1:4567/mcp"
    headers = server["headers"]
    assert headers["X-API-Key"] == _secrets(data_dir)["api_key"]
    scheme, token = headers["Authorization"].split(" ")
    assert scheme == "Bearer"
    identity, _ = _authority(data_dir).verify(token)
    assert identity == Identity("agent", "claude", frozenset({"read", "write"}))
    assert "expires" in err
    assert headers["X-API-Key"] not in err and token not in err  # secrets only on stdout


@pytest.mark.parametrize(
    ("agent_type", "permissions"),
    [("Gemini", {"read", "write"}), ("readonly", {"read"}), ("never-heard-of", {"read"})],
)
def test_token_has_the_agent_types_permissions_never_admin(
    agent_type: str, permissions: set[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    status, out, _ = _cli(capsys, "client-config", "cursor", "--data-dir", str(data_dir),
                          "--agent-id", "a1", "--agent-type", agent_type)  # fmt: skip
    assert status == 0
    token = server_entry("cursor", out)["headers"]["Authorization"].removeprefix("Bearer ")
    identity, _ = _authority(data_dir).verify(token)
    assert identity == Identity("a1", agent_type.lower(), frozenset(permissions))


def test_token_lifetime_follows_the_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "scsd.toml"
    toml.write_text("token_ttl_seconds = 600\n", encoding="utf-8")
    data_dir = tmp_path / "data"
    before = int(time.time())
    status, out, err = _cli(
        capsys, "client-config", "vscode", "--config", str(toml), "--data-dir", str(data_dir)
    )
    assert status == 0
    token = server_entry("vscode", out)["headers"]["Authorization"].removeprefix("Bearer ")
    expires_at = _authority(data_dir).inspect(token).expires_at
    assert before + 600 <= expires_at <= int(time.time()) + 600
    assert time.strftime("%Y-%m-%dT%H:%M", time.gmtime(expires_at)) in err


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:80/mcp"),
        ("0.0.0.0", "http://127.0.0.1:80/mcp"),
        ("::", "http://127.0.0.1:80/mcp"),
        ("::1", "http://[::1]:80/mcp"),
        ("[::1]", "http://[::1]:80/mcp"),
        ("box.example", "http://box.example:80/mcp"),
    ],
)
def test_url_uses_a_connectable_host(host: str, url: str) -> None:
    assert mcp_url(host, 80) == url


def test_stdio_command_names_the_database_when_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "elsewhere.db"
    status, out, _ = _cli(
        capsys, "client-config", "codex", "--data-dir", str(tmp_path / "d"), "--db", str(db)
    )
    assert status == 0
    args = server_entry("codex", out)["args"]
    assert args[args.index("--db") + 1] == str(db)


def test_bad_agent_id_is_one_line_and_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _cli(
        capsys, "client-config", "gemini", "--data-dir", str(tmp_path), "--agent-id", "x" * 101
    )
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and "--agent-id" in err


def test_port_0_without_a_recorded_daemon_is_refused_for_http_clients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _cli(capsys, "client-config", "cursor", "--data-dir", str(tmp_path), "--port", "0")
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and "no running scsd is recorded" in err and "--port" in err
    assert _cli(capsys, "client-config", "codex", "--data-dir", str(tmp_path), "--port", "0")[0] == 0


async def test_a_daemon_on_port_0_is_found_through_its_runtime_file(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    assert running.config.port == 0
    status, out, err = await _cli_beside(
        capsys, "client-config", "vscode", "--data-dir", str(running.config.data_dir)
    )
    assert status == 0, err
    assert server_entry("vscode", out)["url"] == running.mcp_url
    assert "warning" not in err


def test_a_warning_says_when_no_daemon_answers_at_the_printed_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as reserved:  # bound, never listening: connections are refused
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        status, out, err = _cli(
            capsys, "client-config", "cursor", "--data-dir", str(tmp_path), "--port", str(port)
        )
    assert status == 0 and server_entry("cursor", out)["url"] == f"http://127.0.0.1:{port}/mcp"
    assert f"scsd: warning: no scsd answers at http://127.0.0.1:{port} now" in err


def test_unusable_data_dir_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    status, out, err = _cli(capsys, "client-config", "generic", "--data-dir", str(blocker / "data"))
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and str(blocker / "data") in err


async def test_claude_code_config_works_with_the_bearer_header_alone(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = await _cli_beside(capsys, *_argv(running, "claude-code", "--agent-id", "cc-agent"))
    assert status == 0
    server = server_entry("claude-code", out)
    assert server["url"] == running.mcp_url
    mcp = McpHttp(server["url"], server["headers"])
    with trio.fail_after(CALL_SECONDS):
        created = await mcp.call("create_session", purpose="from a pasted config")
        assert created["success"], created
        sid = created["session_id"]
        added = await mcp.call("add_message", session_id=sid, content="hello from Claude Code")
        assert added["success"], added
        got = await mcp.call("get_messages", session_id=sid)
        assert [(m["sender"], m["content"]) for m in got["messages"]] == [
            ("cc-agent", "hello from Claude Code")
        ]
        # The header is what authenticated those calls: without it the same call is refused.
        bare = await McpHttp(server["url"]).call("create_session", purpose="no credentials")
        assert bare["code"] == "AUTH_REQUIRED"
        # When the token expires, the agent gets a new one with the key in the config.
        key_only = McpHttp(server["url"], {"X-API-Key": server["headers"]["X-API-Key"]})
        again = await key_only.call("authenticate_agent", agent_id="cc-agent", agent_type="claude")
        assert again["success"] and again["permissions"] == ["read", "write"], again


async def test_generic_config_works_over_http_and_stdio_on_one_database(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = await _cli_beside(capsys, *_argv(running, "generic", "--agent-id", "gen-agent"))
    assert status == 0
    server = server_entry("generic", out)
    stdio = McpStdio(server["stdio"]["command"], server["stdio"]["args"], _stdio_env())
    # The stdio client hands the child our stderr, which must be a real file, not capsys's.
    with capsys.disabled(), trio.fail_after(CALL_SECONDS):
        (created,) = await stdio.calls([("create_session", {"purpose": "started over stdio"})])
        assert created["success"] and created["created_by"] == "gen-agent", created
        http = McpHttp(server["url"], server["headers"])
        added = await http.call(
            "add_message", session_id=created["session_id"], content="and continued over HTTP"
        )
        assert added["success"], added


@pytest.mark.parametrize("client", STDIO_CLIENTS)
async def test_stdio_configs_run_scsd_stdio_as_the_given_agent(
    client: str, running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = await _cli_beside(
        capsys, *_argv(running, client, "--agent-id", f"{client}-agent", "--agent-type", "gemini")
    )
    assert status == 0
    server = server_entry(client, out)
    stdio = McpStdio(server["command"], server["args"], _stdio_env())
    with capsys.disabled(), trio.fail_after(CALL_SECONDS):  # the child needs a real stderr
        (created,) = await stdio.calls([("create_session", {"purpose": f"from {client}"})])
    assert created["success"] and created["created_by"] == f"{client}-agent", created
    # The daemon sees what the stdio process wrote: same data dir, same database.
    token = await running.token("reader")
    with trio.fail_after(CALL_SECONDS):
        seen = await running.mcp(Authorization=f"Bearer {token}").call(
            "get_session", session_id=created["session_id"]
        )
    assert seen["success"] and seen["session"]["purpose"] == f"from {client}", seen
