"""`scsd stdio`: MCP over stdin/stdout against the daemon's database, as a local identity."""

from __future__ import annotations

import logging

import trio

from scsd import mcp_tools, watcher
from scsd.auth import DEFAULT_PERMISSIONS, TYPE_PERMISSIONS, Authority, normalize_agent_type
from scsd.config import Config
from scsd.events import Identity
from scsd.hub import Hub
from scsd.keys import load_or_create_keys, prepare_data_dir
from scsd.store import open_reader, open_store
from scsd.tools import Services

logger = logging.getLogger(__name__)


def local_identity(config: Config) -> Identity:
    """The trusted identity of this process: `--agent-id/--agent-type`, with that type's
    permissions (never admin)."""
    kind = normalize_agent_type(config.agent_type)
    return Identity(config.agent_id, kind, TYPE_PERMISSIONS.get(kind, DEFAULT_PERMISSIONS))


async def run(config: Config) -> None:
    """Serve MCP over stdio until the client closes stdin.

    Writes commit to the shared database; the daemon's watcher delivers them to browsers
    and sockets. This process runs its own watcher too, so `wait_for_messages` wakes for
    messages written by the daemon or any other process. No listener is opened here.
    """
    prepare_data_dir(config.data_dir)
    keys = load_or_create_keys(config)
    wakeup = watcher.Wakeup()
    hub = Hub(config.subscriber_buffer)
    state = watcher.WatcherState()
    async with (
        open_store(config.database, wakeup.set, on_message=watcher.shortcut(hub, state)) as store,
        open_reader(config.database) as reader,
    ):
        authority = Authority(
            keys.api_key.reveal(), keys.admin_key.reveal(), keys.jwt_secret.reveal(), config.token_ttl_seconds
        )
        identity = local_identity(config)
        svc = Services(store, hub, authority, mcp_tools.http_headers, local_identity=identity)
        logger.info(
            "scsd stdio: serving MCP as %s (%s) on %s",
            identity.agent_id,
            identity.agent_type,
            config.database,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(watcher.run, reader, hub, wakeup, config.poll_seconds, state)
            await mcp_tools.run_stdio(mcp_tools.build(svc))
            nursery.cancel_scope.cancel()
