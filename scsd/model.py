"""Plain values every layer shares: identities, sessions, messages, memory entries, endpoints.

The bottom of the package: this module imports nothing of ours (docs/design.md, import rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

VISIBILITIES: Final = ("public", "private", "agent_only", "admin_only")
Visibility = Literal["public", "private", "agent_only", "admin_only"]
JsonObject = dict[str, Any]


def iso_from_micros(micros: int) -> str:
    """ISO 8601 UTC with `Z`, to the microsecond: the one timestamp format of the API."""
    dt = datetime.fromtimestamp(micros / 1_000_000, tz=UTC).replace(microsecond=micros % 1_000_000)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Identity:
    """Who is calling: an agent from a token, the stdio local agent, or an admin."""

    agent_id: str
    agent_type: str
    permissions: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.permissions

    def can(self, permission: str) -> bool:
        return permission in self.permissions or self.is_admin


@dataclass(frozen=True)
class Session:
    id: str
    purpose: str
    created_by: str
    created_at: int
    updated_at: int
    is_active: bool
    metadata: Mapping[str, Any]

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "purpose": self.purpose,
            "created_by": self.created_by,
            "created_at": iso_from_micros(self.created_at),
            "updated_at": iso_from_micros(self.updated_at),
            "is_active": self.is_active,
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True)
class Message:
    id: int
    session_id: str
    sender: str
    sender_type: str
    content: str
    visibility: str
    message_type: str
    metadata: Mapping[str, Any]
    timestamp: int
    parent_message_id: int | None

    def to_json(self) -> JsonObject:
        """The message object of SPEC §5."""
        return {
            "id": self.id,
            "session_id": self.session_id,
            "sender": self.sender,
            "sender_type": self.sender_type,
            "content": self.content,
            "visibility": self.visibility,
            "message_type": self.message_type,
            "metadata": dict(self.metadata),
            "timestamp": iso_from_micros(self.timestamp),
            "parent_message_id": self.parent_message_id,
        }


@dataclass(frozen=True)
class Endpoints:
    """Where a running daemon listens, as `daemon.run` reports to `started()`."""

    http_host: str
    http_port: int
    ws_host: str
    ws_port: int
    tls: bool = False  # both ports speak TLS: https:// and wss://

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{_url_host(self.http_host)}:{self.http_port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{_url_host(self.ws_host)}:{self.ws_port}"


@dataclass
class ListenerStats:
    """A listener's counters, for `/health` and `/metrics` (the WebSocket listener's today)."""

    connections: int = 0
    accepted: int = 0
    rejected: int = 0
    aborted: int = 0  # peers that went away during the handshake
    host: str = ""
    port: int = 0


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class MemoryEntry:
    """One live memory entry of one agent, global (`session_id` None) or session-scoped."""

    agent_id: str
    session_id: str | None
    key: str
    value: Any
    metadata: Mapping[str, Any]
    created_at: int
    updated_at: int
    expires_at: int | None
    value_size: int

    @property
    def scope(self) -> str:
        return "global" if self.session_id is None else "session"

    def to_json(self, *, with_value: bool = True) -> JsonObject:
        body: JsonObject = {
            "key": self.key,
            "scope": self.scope,
            "session_id": self.session_id,
            "created_at": iso_from_micros(self.created_at),
            "updated_at": iso_from_micros(self.updated_at),
            "expires_at": None if self.expires_at is None else iso_from_micros(self.expires_at),
        }
        if with_value:
            body["value"] = self.value
            body["metadata"] = dict(self.metadata)
        else:
            body["value_size"] = self.value_size
        return body
