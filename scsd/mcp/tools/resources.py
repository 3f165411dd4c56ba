"""MCP resources and prompts. They take no auth_token: identity comes from the connection's
Authorization header (or the stdio identity), and they show only what that identity may see."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from scsd.access import validation
from scsd.errors import NotFound, ToolError, session_not_found
from scsd.mcp.tools import Services, identify
from scsd.model import VISIBILITIES
from scsd.store import ALL_SCOPES

MAX_RESOURCE_MESSAGES = 500


def build_resources(svc: Services) -> dict[str, Callable[..., Any]]:
    """URI template → handler returning JSON text."""

    async def session_resource(session_id: str) -> str:
        who = await identify(svc, None)
        sid = validation.session_id(session_id)
        try:
            session = await svc.store.get_session(sid)
            page = await svc.store.get_messages(
                sid, who, visibilities=VISIBILITIES, limit=MAX_RESOURCE_MESSAGES
            )
        except NotFound:
            raise session_not_found(sid) from None
        return json.dumps({
            "session": session.to_json(),
            "messages": [m.to_json() for m in page.messages],
            "statistics": {
                "visible_message_count": page.total_count,
                "returned": len(page.messages),
                "unique_agents": len({m.sender for m in page.messages}),
            },
            "requesting_agent": who.agent_id,
        })  # fmt: skip

    async def memory_resource(agent_id: str) -> str:
        who = await identify(svc, None)
        if agent_id != who.agent_id and not who.is_admin:
            raise ToolError("PERMISSION_DENIED", f"Memory of {agent_id!r} is readable by that agent only.")
        entries = await svc.store.list_memory(agent_id, ALL_SCOPES, None, 1000)
        memory: dict[str, Any] = {"global": {}, "sessions": {}}
        for e in entries:
            bucket = (
                memory["global"] if e.session_id is None else memory["sessions"].setdefault(e.session_id, {})
            )
            bucket[e.key] = e.to_json()
        return json.dumps({"agent_id": agent_id, "memory": memory, "entry_count": len(entries)})

    return {"session://{session_id}": session_resource, "agent://{agent_id}/memory": memory_resource}


def build_prompts(svc: Services) -> dict[str, Callable[..., Any]]:
    """Prompt name → handler returning the prompt text."""

    async def setup_collaboration(purpose: str, agent_types: str = "claude") -> str:
        await identify(svc, None)
        roles = [t.strip() for t in agent_types.split(",") if t.strip()] or ["claude"]
        return (
            f"Set up a shared session for: {purpose}\n\n"
            "1. Each agent calls authenticate_agent(agent_id, agent_type) with the agent API key in "
            f"the X-API-Key header (agent types here: {', '.join(roles)}).\n"
            f"2. One agent calls create_session(purpose={purpose!r}) and shares the session_id.\n"
            "3. Agents post with add_message(session_id, content) and follow each other with "
            "wait_for_messages(session_id, since_id=<last id seen>).\n"
            "4. Keep private notes with set_memory(key, value, session_id=...)."
        )

    async def debug_session(session_id: str) -> str:
        who = await identify(svc, None)
        sid = validation.session_id(session_id)
        try:
            session = await svc.store.get_session(sid)
            page = await svc.store.get_messages(sid, who, visibilities=VISIBILITIES, limit=1000)
        except NotFound:
            raise session_not_found(sid) from None
        by_level = Counter(m.visibility for m in page.messages)
        by_sender = Counter(m.sender for m in page.messages)
        return (
            f"Session {sid}: {session.purpose!r}, created by {session.created_by}, "
            f"{'active' if session.is_active else 'inactive'}.\n"
            f"Messages you may see: {page.total_count} "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(by_level.items())) or 'none'}).\n"
            f"Senders: {', '.join(f'{k} ({v})' for k, v in by_sender.most_common()) or 'none'}.\n"
            f"Inspect with get_messages(session_id={sid!r}) or search_context(session_id={sid!r}, query=...)."
        )

    return {"setup-collaboration": setup_collaboration, "debug-session": debug_session}
