"""`scsd stdio`: MCP over stdin/stdout against the daemon's database, as a local identity."""

from __future__ import annotations

from scsd.access.tokens import DEFAULT_PERMISSIONS, TYPE_PERMISSIONS, normalize_agent_type
from scsd.mcp import server
from scsd.mcp.tools import Services
from scsd.model import Identity


def local_identity(agent_id: str, agent_type: str) -> Identity:
    """The trusted identity of a stdio process: `--agent-id/--agent-type`, with that type's
    permissions (never admin): whoever can start it can read the secrets file anyway."""
    kind = normalize_agent_type(agent_type)
    return Identity(agent_id, kind, TYPE_PERMISSIONS.get(kind, DEFAULT_PERMISSIONS))


async def serve(svc: Services) -> None:
    """Serve MCP over stdin/stdout as `svc.local_identity` until the client closes stdin.

    Writes commit to the shared database; the daemon's watcher delivers them to browsers
    and sockets.
    """
    await server.run_stdio(server.build(svc))
