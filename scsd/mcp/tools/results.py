"""The tools' result shapes, as typed dicts: mypy checks what each tool returns, and
`scsd.mcp.server` publishes them as each tool's `outputSchema` (with `Failure`, the error
envelope every tool may answer instead; the objects inside them are in `objects`)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

# pydantic needs typing_extensions' TypedDict on Python 3.11 to build a schema from it.
from typing_extensions import TypedDict

from scsd.mcp.tools.objects import MemoryListing, MemoryObject, MessageObject, Scope, SessionObject


class Authenticated(TypedDict):
    success: Literal[True]
    token: str
    agent_id: str
    agent_type: str
    permissions: list[str]
    expires_at: str
    issued_at: str
    token_type: Literal["Bearer"]
    token_format: Literal["jwt"]


class Refreshed(TypedDict):
    success: Literal[True]
    token: str
    expires_in: int
    expires_at: str
    issued_at: str
    token_type: Literal["Bearer"]
    token_format: Literal["jwt"]


class SessionCreated(TypedDict):
    success: Literal[True]
    session_id: str
    created_by: str
    created_at: str


class SessionView(TypedDict):
    success: Literal[True]
    session: SessionObject
    messages: list[MessageObject]
    message_count: int


class SessionList(TypedDict):
    success: Literal[True]
    sessions: list[SessionObject]
    count: int


class MessageAdded(TypedDict):
    success: Literal[True]
    message_id: int
    timestamp: str


class MessageList(TypedDict):
    success: Literal[True]
    messages: list[MessageObject]
    count: int
    total_count: int
    has_more: bool


class Waited(TypedDict):
    success: Literal[True]
    messages: list[MessageObject]
    count: int
    timed_out: bool
    last_id: int


class Typing(TypedDict):
    success: Literal[True]
    session_id: str
    typing: bool
    expires_at: str | None
    sent: bool


class SearchHit(TypedDict):
    message: MessageObject
    score: float
    match_preview: str
    relevance: Literal["high", "medium", "low"]


class SearchResults(TypedDict):
    success: Literal[True]
    results: list[SearchHit]
    query: str
    threshold: float
    search_scope: str
    message_count: int
    search_time_ms: float
    performance_note: str
    cache_hit: bool


class SenderMessages(TypedDict):
    success: Literal[True]
    messages: list[MessageObject]
    sender: str
    count: int


class TimeRange(TypedDict):
    start: str
    end: str


class TimeRangeMessages(TypedDict):
    success: Literal[True]
    messages: list[MessageObject]
    timerange: TimeRange
    count: int


class MemorySet(TypedDict):
    success: Literal[True]
    key: str
    session_scoped: bool
    scope: Scope
    session_id: str | None
    expires_at: str | None
    stored_at: str


class MemoryRead(MemoryObject):
    success: Literal[True]


class MemoryList(TypedDict):
    success: Literal[True]
    entries: list[MemoryListing]
    count: int
    scope_filter: str


class MemoryDeleted(TypedDict):
    success: Literal[True]
    key: str
    scope: Scope
    session_id: str | None
    deleted: Literal[True]


class AgentInfo(TypedDict):
    """Who called; `expires_at` is when the caller's token lapses (null without one), and
    `can_refresh` whether refresh_token can renew it."""

    agent_id: str
    agent_type: str
    permissions: list[str]
    authenticated: bool
    expires_at: str | None
    can_refresh: bool


class Guidance(TypedDict):
    success: Literal[True]
    access_level: Literal["ADMIN", "AGENT", "READ_ONLY"]
    agent_info: AgentInfo
    guidance: dict[str, Any]
    examples: dict[str, list[str]]
    guidance_type: str
    server_version: str
    generated_at: str


class ToolStats(TypedDict):
    calls: int
    errors: int
    p50_ms: float
    p95_ms: float
    max_ms: float


class Metrics(TypedDict):
    """Live counters of this daemon since it started; `websocket`, `hub` and `watcher` are
    the daemon's (absent over `scsd stdio`)."""

    success: Literal[True]
    version: str
    database_backend: Literal["sqlite"]
    database: dict[str, int]
    messages_added: int
    uptime_seconds: float
    tool_calls: int
    tool_errors: int
    tools: dict[str, ToolStats]
    websocket: NotRequired[dict[str, Any]]
    hub: NotRequired[dict[str, Any]]
    watcher: NotRequired[dict[str, Any]]
    requesting_agent: str
    request_timestamp: str
    generated_at: str


class AuditEntry(TypedDict):
    id: int
    timestamp: str
    event_type: str
    agent_id: str
    session_id: str | None
    resource: str | None
    result: str | None
    metadata: dict[str, Any]


class AuditLog(TypedDict):
    success: Literal[True]
    entries: list[AuditEntry]
    count: int
    total_count: int
