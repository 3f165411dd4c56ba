"""Ready-to-paste MCP client configurations for this daemon: pure functions of a `Target`,
shared by `scsd client-config` and the Web UI's client set-up page."""

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

from scsd.config import Config

SERVER_NAME: Final = "scsd"
ALIASES: Final[Mapping[str, str]] = {"claude": "claude-code"}
STDIO_CLIENTS: Final = frozenset({"claude-desktop", "codex"})


@dataclass(frozen=True)
class Target:
    """Where and how a client reaches this daemon: over HTTP, or by spawning `scsd stdio`."""

    url: str
    headers: Mapping[str, str]
    command: str
    args: tuple[str, ...]


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
