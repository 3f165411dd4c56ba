"""`scsd client-config CLIENT`: a ready-to-paste MCP client configuration for this daemon.

HTTP clients get the daemon's `/mcp` URL with a freshly minted token (`Authorization`) and
the agent API key (`X-API-Key`, to authenticate again later); stdio clients get `scsd stdio`.
The text itself comes from `render`, a pure function the Web UI's client page uses too.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from scsd import net
from scsd.auth import (
    DEFAULT_PERMISSIONS,
    MAX_AGENT_ID,
    MAX_AGENT_TYPE,
    TYPE_PERMISSIONS,
    Authority,
    normalize_agent_type,
)
from scsd.config import Config
from scsd.errors import StartupError
from scsd.events import Identity, iso_from_micros
from scsd.keys import load_or_create_keys, prepare_data_dir

SERVER_NAME: Final = "scsd"
EXIT_USAGE: Final = 2
ALIASES: Final[Mapping[str, str]] = {"claude": "claude-code"}
STDIO_CLIENTS: Final = frozenset({"claude-desktop", "codex"})


@dataclass(frozen=True)
class Target:
    """Where and how a client reaches this daemon: over HTTP, or by spawning `scsd stdio`."""

    url: str
    headers: Mapping[str, str]
    command: str
    args: tuple[str, ...]


def mcp_url(host: str, port: int, *, tls: bool = False) -> str:
    """The MCP endpoint a local client should use for a daemon bound to `host`:`port`."""
    return f"{net.local_url(host, port, tls=tls)}/mcp"


def stdio_command(config: Config, agent_id: str, agent_type: str) -> tuple[str, tuple[str, ...]]:
    """An absolute command and its arguments that run `scsd stdio` on this data dir.

    Prefers the `scsd` script installed beside this Python (the same environment), then the
    one on PATH, then `python -m scsd`.
    """
    args = ["stdio", "--agent-id", agent_id, "--agent-type", agent_type]
    args += ["--data-dir", os.path.abspath(config.data_dir)]
    if config.db_path is not None:
        args += ["--db", os.path.abspath(config.db_path)]
    beside = Path(sys.executable).parent / "scsd"
    script = str(beside) if os.access(beside, os.X_OK) else shutil.which("scsd")
    if script:
        return os.path.abspath(script), tuple(args)
    return os.path.abspath(sys.executable), ("-m", "scsd", *args)


def _json(value: object) -> str:
    return json.dumps(value, indent=2)


def claude_code_command(t: Target) -> str:
    """The `claude mcp add` line that registers this daemon with Claude Code."""
    command = ["claude", "mcp", "add", "--transport", "http", SERVER_NAME, t.url]
    for name, value in t.headers.items():
        command += ["--header", f"{name}: {value}"]
    return shlex.join(command)


def claude_code_json(t: Target) -> str:
    """The same server as Claude Code's `.mcp.json`."""
    return _json({"mcpServers": {SERVER_NAME: {"type": "http", "url": t.url, "headers": dict(t.headers)}}})


def _claude_code(t: Target) -> str:
    return claude_code_command(t) + "\n\n" + claude_code_json(t)


def _cursor(t: Target) -> str:
    return _json({"mcpServers": {SERVER_NAME: {"url": t.url, "headers": dict(t.headers)}}})


def _vscode(t: Target) -> str:
    return _json({"servers": {SERVER_NAME: {"type": "http", "url": t.url, "headers": dict(t.headers)}}})


def _claude_desktop(t: Target) -> str:
    return _json({"mcpServers": {SERVER_NAME: {"command": t.command, "args": list(t.args)}}})


def _codex(t: Target) -> str:
    # JSON string and array syntax is valid TOML for these values (basic strings, same escapes).
    return "\n".join(
        [
            f"[mcp_servers.{SERVER_NAME}]",
            f"command = {json.dumps(t.command)}",
            f"args = {json.dumps(list(t.args))}",
        ]
    )


def _gemini(t: Target) -> str:
    return _json({"mcpServers": {SERVER_NAME: {"httpUrl": t.url, "headers": dict(t.headers)}}})


def _generic(t: Target) -> str:
    stdio = {"command": t.command, "args": list(t.args)}
    return _json({"url": t.url, "transport": "streamable-http", "headers": dict(t.headers), "stdio": stdio})


RENDERERS: Final[Mapping[str, Callable[[Target], str]]] = {
    "claude-code": _claude_code,
    "cursor": _cursor,
    "vscode": _vscode,
    "claude-desktop": _claude_desktop,
    "codex": _codex,
    "gemini": _gemini,
    "generic": _generic,
}
WHERE: Final[Mapping[str, str]] = {
    "claude-code": "run the command, or put the JSON in .mcp.json at the project root",
    "cursor": "merge into ~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
    "vscode": "merge into .vscode/mcp.json in the workspace",
    "claude-desktop": "merge into claude_desktop_config.json and restart Claude Desktop",
    "codex": "append to ~/.codex/config.toml",
    "gemini": "merge into ~/.gemini/settings.json (or .gemini/settings.json in a project)",
    "generic": "streamable HTTP with these headers, or spawn the stdio command",
}
TITLES: Final[Mapping[str, str]] = {
    "claude-code": "Claude Code",
    "cursor": "Cursor",
    "vscode": "VS Code",
    "claude-desktop": "Claude Desktop (stdio)",
    "codex": "Codex CLI (stdio)",
    "gemini": "Gemini CLI",
    "generic": "Any other MCP client",
}


def render(client: str, target: Target) -> str:
    """The configuration text for `client` (a name of `RENDERERS` or an alias): a pure
    function of `target`, shared by this command and the Web UI's client set-up page."""
    return RENDERERS[ALIASES.get(client, client)](target)


def auth_headers(token: str, api_key: str | None) -> dict[str, str]:
    """The HTTP headers of a config: the bearer token, and the agent API key if given (so
    the agent can call `authenticate_agent` again when the token expires)."""
    headers = {"Authorization": f"Bearer {token}"}
    if api_key is not None:
        headers["X-API-Key"] = api_key
    return headers


def target(config: Config, url: str, agent_id: str, agent_type: str, headers: Mapping[str, str]) -> Target:
    """Where a client reaches this daemon: `url` with `headers`, or `scsd stdio` as the agent."""
    command, args = stdio_command(config, agent_id, agent_type)
    return Target(url, dict(headers), command, args)


def run(config: Config) -> int:
    """Print the configuration for `config.command_args["client"]` on stdout.

    Notes (where to paste it, when the token expires) go to stderr.

    Returns:
        0, or 2 with one line on stderr for a bad agent id/type or an unusable data dir.
    """
    client = str(config.command_args["client"])
    client = ALIASES.get(client, client)
    agent_id = str(config.command_args.get("agent_id") or "agent").strip()
    agent_type = normalize_agent_type(str(config.command_args.get("agent_type") or "claude"))
    if not 1 <= len(agent_id) <= MAX_AGENT_ID or not 1 <= len(agent_type) <= MAX_AGENT_TYPE:
        print(
            f"scsd: --agent-id must be 1 to {MAX_AGENT_ID} characters and --agent-type 1 to {MAX_AGENT_TYPE}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if client not in STDIO_CLIENTS and config.port == 0:
        print(
            "scsd: the port is 0 (any free port); pass --port with the port the daemon bound", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        prepare_data_dir(config.data_dir)
        keys = load_or_create_keys(config)
    except StartupError as e:
        print(f"scsd: {e}", file=sys.stderr)
        return EXIT_USAGE
    permissions = TYPE_PERMISSIONS.get(agent_type, DEFAULT_PERMISSIONS)
    headers: dict[str, str] = {}
    if client not in STDIO_CLIENTS:
        authority = Authority(
            keys.api_key.reveal(), keys.admin_key.reveal(), keys.jwt_secret.reveal(), config.token_ttl_seconds
        )
        issued = authority.issue(Identity(agent_id, agent_type, permissions))
        headers = auth_headers(issued.token, keys.api_key.reveal())
        expires = iso_from_micros(issued.expires_at * 1_000_000)
        print(
            f"scsd: token for {agent_id} ({agent_type}: {'+'.join(sorted(permissions))}) expires {expires}; "
            "then the agent calls authenticate_agent (its X-API-Key header is set), "
            "or run `scsd client-config` again",
            file=sys.stderr,
        )
    else:
        print(
            f"scsd: `scsd stdio` runs as {agent_id} ({agent_type}) on this data dir; no key needed",
            file=sys.stderr,
        )
    where = target(config, mcp_url(config.host, config.port, tls=config.tls), agent_id, agent_type, headers)
    print(f"scsd: {WHERE[client]}", file=sys.stderr)
    print(render(client, where))
    return 0
