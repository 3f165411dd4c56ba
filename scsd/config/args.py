"""The shape of the `scsd` command line: subcommands, flags, and unknown-flag detection.

Values are validated in `scsd.config`; only flags actually given appear in the result
(argparse.SUPPRESS), so they override lower layers without shadowing them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, Final

from scsd.errors import ConfigError


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see `scsd --help`)")


def _add_common(p: argparse.ArgumentParser) -> None:
    s = argparse.SUPPRESS  # only flags actually given override lower layers
    p.add_argument("--host", default=s, help="HTTP/MCP/UI bind address (127.0.0.1)")
    p.add_argument("--port", default=s, help="HTTP/MCP/UI port (45678; 0 = any free port)")
    p.add_argument("--ws-host", dest="ws_host", default=s, help="WebSocket bind address")
    p.add_argument("--ws-port", dest="ws_port", default=s, help="WebSocket port (8080; 0 = any)")
    p.add_argument("--db", dest="db_path", default=s, help="SQLite file (DATA_DIR/scsd.db)")
    p.add_argument("--data-dir", dest="data_dir", default=s, help="where secrets and the db live")
    p.add_argument("--config", dest="config_file", default=s, help="TOML config file")
    p.add_argument("--log-level", dest="log_level", default=s, help="DEBUG, INFO, WARNING, ERROR")
    p.add_argument("--log-format", dest="log_format", default=s, help="text (default) or json")
    p.add_argument("--certfile", dest="certfile", default=s, help="PEM certificate (chain): HTTPS and WSS")
    p.add_argument("--keyfile", dest="keyfile", default=s, help="PEM private key of --certfile")


def build_parser() -> argparse.ArgumentParser:
    """The `scsd` command line: `serve` (default) and `stdio`."""
    parser = _Parser(prog="scsd", description="Shared Context Server daemon")
    _add_common(parser)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    serve = sub.add_parser("serve", help="run the daemon (default)")
    _add_common(serve)
    stdio = sub.add_parser("stdio", help="serve MCP over stdio against the same database")
    _add_common(stdio)
    s = argparse.SUPPRESS
    stdio.add_argument("--agent-id", dest="agent_id", default=s, help="local identity's agent id")
    stdio.add_argument("--agent-type", dest="agent_type", default=s, help="local agent type")
    _add_tool_commands(sub)
    return parser


CLIENTS: Final = ("claude-code", "claude", "cursor", "vscode", "claude-desktop", "codex", "gemini", "generic")


def _add_tool_commands(sub: Any) -> None:
    """The operator subcommands; their own arguments land in `Config.command_args`."""
    status = sub.add_parser("status", help="probe a running daemon's /health; exit 0 if healthy")
    _add_common(status)
    status.add_argument("--json", dest="cmd_json", action="store_true", help="print the health JSON")
    client = sub.add_parser("client-config", help="print a ready-to-paste MCP client config")
    _add_common(client)
    client.add_argument("cmd_client", metavar="CLIENT", choices=CLIENTS, help=", ".join(CLIENTS))
    client.add_argument("--agent-id", dest="cmd_agent_id", default="agent", help="agent id to configure")
    client.add_argument("--agent-type", dest="cmd_agent_type", default="claude", help="agent type")
    backup = sub.add_parser("backup", help="online, consistent copy of the database")
    _add_common(backup)
    backup.add_argument("cmd_path", metavar="PATH", help="where to write the copy")
    export = sub.add_parser("export", help="write one session's messages as JSONL or Markdown")
    _add_common(export)
    export.add_argument("cmd_session_id", metavar="SESSION_ID")
    export.add_argument("--format", dest="cmd_format", choices=("jsonl", "markdown"), default="jsonl")
    export.add_argument("--output", dest="cmd_output", default=None, help="file (default: stdout)")
    export.add_argument("--as-agent", dest="cmd_as_agent", default=None,
                        help="export only what this agent id may see (default: everything)")  # fmt: skip
    export.add_argument("--as-type", dest="cmd_as_type", default="claude", help="that agent's type")
    imp = sub.add_parser("import", help="load a session exported as JSONL")
    _add_common(imp)
    imp.add_argument("cmd_file", metavar="FILE")
    keys = sub.add_parser("keys", help="show or rotate the agent key, admin key or JWT secret")
    _add_common(keys)
    keys.add_argument("cmd_action", metavar="ACTION", choices=("show", "rotate"))
    keys.add_argument("--which", dest="cmd_which", choices=("api", "admin", "jwt", "all"), default="all")


def check_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Name an unknown `--flag` ourselves: argparse would blame the value after it instead
    ("invalid choice: '1'") because it takes that value for the subcommand."""
    for token in argv:
        if token == "--":
            return
        flag = token.split("=", 1)[0]
        if flag.startswith("--") and flag not in _known_flags(parser):
            raise ConfigError(f"unknown flag {flag} (see `scsd --help`)")


def _known_flags(parser: argparse.ArgumentParser) -> set[str]:
    known: set[str] = set()
    for action in parser._actions:
        known.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                known |= _known_flags(sub)
    return known
