"""The objects inside the tools' results (messages, sessions, memory entries) and `Failure`,
the error envelope every tool may answer instead of its result; as typed dicts."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, cast

# pydantic needs typing_extensions' TypedDict on Python 3.11 to build a schema from it.
from typing_extensions import TypedDict

from scsd import model
from scsd.mcp.tools.params import Visibility
from scsd.model import Message, Session

Scope = Literal["global", "session"]


class Failure(TypedDict):
    """A failed call (an MCP tool error, isError true): what went wrong, a code to branch on,
    whether retrying can help, and what to do."""

    success: Literal[False]
    error: str
    code: str
    recoverable: bool
    suggestions: list[str]
    severity: Literal["warning", "error", "critical"]
    timestamp: str
    retry_after: NotRequired[float]  # seconds, where waiting helps (as context.retry_after)
    context: NotRequired[dict[str, Any]]


class MessageObject(TypedDict):
    """A message; `timestamp` is when the daemon accepted it (ISO 8601 UTC)."""

    id: int
    session_id: str
    sender: str
    sender_type: str
    content: str
    visibility: Visibility
    message_type: str
    metadata: dict[str, Any]
    timestamp: str
    parent_message_id: int | None


class SessionObject(TypedDict):
    id: str
    purpose: str
    created_by: str
    created_at: str
    updated_at: str
    is_active: bool
    metadata: dict[str, Any]


class MemoryEntry(TypedDict):
    key: str
    scope: Scope
    session_id: str | None
    created_at: str
    updated_at: str
    expires_at: str | None


class MemoryObject(MemoryEntry):
    """A memory entry with its value."""

    value: Any
    metadata: dict[str, Any]


class MemoryListing(MemoryEntry):
    """A memory entry without its value; `value_size` is the value's length as JSON text."""

    value_size: int


# The model's JSON, typed: tests/mcp/test_schemas.py checks every result against its schema.
def message_object(message: Message) -> MessageObject:
    return cast(MessageObject, message.to_json())


def session_object(session: Session) -> SessionObject:
    return cast(SessionObject, session.to_json())


def memory_object(entry: model.MemoryEntry) -> MemoryObject:
    return cast(MemoryObject, entry.to_json())


def memory_listing(entry: model.MemoryEntry) -> MemoryListing:
    return cast(MemoryListing, entry.to_json(with_value=False))
