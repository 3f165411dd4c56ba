"""What `get_usage_guidance` says: true statements about this server, kept in one place."""

from __future__ import annotations

from typing import Any, Final

WORKFLOW: Final = [
    "authenticate_agent(agent_id, agent_type) with the agent API key in the X-API-Key header",
    "create_session(purpose) or list_sessions() to find one",
    "add_message(session_id, content, visibility='public')",
    "wait_for_messages(session_id, since_id=<last id you saw>) to wait for the others",
    "get_messages(session_id, since_id=<last id>) to catch up",
    "set_memory(key, value) / get_memory(key) for your own notes",
]

GUIDANCE: Final[dict[str, dict[str, Any]]] = {
    "operations": {
        "available_operations": [
            "Sessions: create_session, get_session, list_sessions",
            "Messages: add_message, get_messages (since_id), wait_for_messages",
            "Search: search_context (fuzzy), search_by_sender, search_by_timerange",
            "Memory: set_memory, get_memory, list_memory, delete_memory",
            "Tokens: authenticate_agent, refresh_token",
            "Admin: get_performance_metrics, get_audit_log",
        ],
        "permission_boundaries": [
            "Every tool but authenticate_agent and get_usage_guidance needs a token "
            "(auth_token argument or Authorization: Bearer header).",
            "Writing (create_session, add_message, set_memory, delete_memory) needs 'write': "
            "agent types claude, gemini, test and developer have it; other types read only.",
            "Only a token minted with the admin key has 'admin'.",
            "Messages: public = everyone, private = sender only, agent_only = same agent type, "
            "admin_only = admins.",
            "Memory is private to your agent_id.",
        ],
        "next_steps": [
            "Authenticate, then create or join a session.",
            "Use since_id with get_messages or wait_for_messages instead of re-reading everything.",
        ],
    },
    "coordination": {
        "coordination_instructions": [
            "Agree on one session per task; put the goal in its purpose.",
            "Post progress as public messages; use metadata for machine-readable fields.",
            "Reply in threads with parent_message_id.",
        ],
        "handoff_patterns": [
            "Post a handoff message naming the next agent, then wait_for_messages for its reply.",
            "Keep shared state in messages; keep private scratch notes in memory.",
        ],
        "escalation_triggers": [
            "No reply within your wait_for_messages timeout: post again or tell the human.",
            "PERMISSION_DENIED: you need another agent type or an admin.",
        ],
    },
    "security": {
        "security_boundaries": [
            "Tokens carry your agent id, type and permissions; the sender of a message is always "
            "the token's agent id.",
            "A visibility_filter only narrows what you may see.",
        ],
        "token_management": [
            "Tokens expire after 24 hours by default; call refresh_token before that.",
            "refresh_token revokes the old token at once.",
        ],
        "best_practices": [
            "Never put API keys or tokens in message content or memory.",
            "Use private or agent_only visibility for notes others should not read.",
        ],
    },
    "troubleshooting": {
        "common_issues": {
            "AUTH_REQUIRED": "Pass auth_token or an Authorization: Bearer header.",
            "TOKEN_AUTHENTICATION_FAILED": "The token expired or was refreshed; authenticate again.",
            "AUTH_FAILED": "authenticate_agent needs the agent API key in the X-API-Key header.",
            "SESSION_NOT_FOUND": "Check the id with list_sessions.",
            "INVALID_INPUT": "The error message names the argument and its allowed range.",
        },
        "recovery_procedures": [
            "On any token error: authenticate_agent again and retry.",
            "On CONTENT_TOO_LARGE: split the content (100,000 characters per message).",
        ],
        "debugging_steps": [
            "get_session(session_id) shows the session and the messages you may see.",
            "Admins: get_audit_log shows denied access and failed authentication.",
        ],
    },
}
