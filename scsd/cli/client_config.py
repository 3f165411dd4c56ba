"""`scsd client-config CLIENT`: a ready-to-paste MCP client configuration for this daemon.

HTTP clients get the daemon's `/mcp` URL with a freshly minted token (`Authorization`) and
the agent API key (`X-API-Key`, to authenticate again later); stdio clients get `scsd stdio`.
The URL is the running daemon's, found as `scsd status` finds it (an explicit `--port`, else
the runtime file in the data dir, else the configured port); a warning on stderr says so when
no daemon answers there now. The text itself comes from `scsd.config.clients`, which the Web
UI's client page uses too.
"""

from __future__ import annotations

import sys
from typing import Final

from scsd.access.tokens import (
    DEFAULT_PERMISSIONS,
    MAX_AGENT_ID,
    MAX_AGENT_TYPE,
    TYPE_PERMISSIONS,
    Authority,
    normalize_agent_type,
)
from scsd.cli.status import probe
from scsd.config import Config
from scsd.config.clients import ALIASES, STDIO_CLIENTS, WHERE, auth_headers, render, target
from scsd.errors import StartupError
from scsd.model import Identity, iso_from_micros
from scsd.process import net, runtime
from scsd.process.keyfile import load_or_create_keys, prepare_data_dir

EXIT_USAGE: Final = 2
PROBE_SECONDS: Final = 2.0


def mcp_url(host: str, port: int, *, tls: bool = False) -> str:
    """The MCP endpoint a local client should use for a daemon bound to `host`:`port`."""
    return f"{net.local_url(host, port, tls=tls)}/mcp"


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
    try:
        where = None if client in STDIO_CLIENTS else runtime.locate(config)
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
    url = mcp_url(config.host, config.port, tls=config.tls) if where is None else f"{where.http_url}/mcp"
    if where is not None:
        _warn_unless_answering(where, config)
    print(f"scsd: {WHERE[client]}", file=sys.stderr)
    print(render(client, target(config, url, agent_id, agent_type, headers)))
    return 0


def _warn_unless_answering(where: runtime.Located, config: Config) -> None:
    for note in where.notes:
        print(f"scsd: {note}", file=sys.stderr)
    try:
        answering = probe(where.http_url, config, PROBE_SECONDS) is not None
    except StartupError:
        answering = False
    if not answering:
        print(
            f"scsd: warning: no scsd answers at {where.http_url} now; this configuration works once "
            "the daemon listens there (start it with `scsd serve`; if it runs on another port, "
            "pass that --port or the --data-dir it uses)",
            file=sys.stderr,
        )
