"""Plain values passed between modules: identities, sessions, messages, changes, endpoints."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar, cast

VISIBILITIES: Final = ("public", "private", "agent_only", "admin_only")
Visibility = Literal["public", "private", "agent_only", "admin_only"]
JsonObject = dict[str, Any]
T = TypeVar("T")


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
class MemoryChange:
    """A session-scoped memory entry was set or deleted (the value is not carried)."""

    action: Literal["set", "deleted"]
    agent_id: str
    key: str
    session_id: str
    updated_at: int

    def to_json(self) -> JsonObject:
        return {
            "action": self.action,
            "agent_id": self.agent_id,
            "key": self.key,
            "scope": "session",
            "session_id": self.session_id,
            "updated_at": iso_from_micros(self.updated_at),
        }


@dataclass(frozen=True)
class TypingChange:
    """An agent started or stopped composing in a session; `expires_at` (micros) is when a
    start lapses by itself if no stop or message follows."""

    session_id: str
    agent_id: str
    typing: bool
    expires_at: int | None

    def to_json(self) -> JsonObject:
        return {
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "typing": self.typing,
            "expires_at": None if self.expires_at is None else iso_from_micros(self.expires_at),
        }


@dataclass(frozen=True)
class Watcher:
    """One identity watching a session (holding an open subscription to it)."""

    agent_id: str
    agent_type: str

    def to_json(self) -> JsonObject:
        return {"agent_id": self.agent_id, "agent_type": self.agent_type}


@dataclass(frozen=True)
class PresenceChange:
    """Who watches a session now: `watchers` lists at most a page of them, `count` all."""

    session_id: str
    watchers: tuple[Watcher, ...]
    count: int

    def to_json(self) -> JsonObject:
        return {"watchers": [w.to_json() for w in self.watchers], "count": self.count}


ChangeKind = Literal["new_message", "session_update", "memory_update", "typing", "presence"]


@dataclass(frozen=True)
class Change:
    """One thing that happened, as a watcher (or the hub, for presence) saw it: exactly one
    of `message`, `session`, `memory`, `typing`, `presence` is set, according to `kind`."""

    kind: ChangeKind
    session_id: str
    message: Message | None = None
    session: Session | None = None
    memory: MemoryChange | None = None
    typing: TypingChange | None = None
    presence: PresenceChange | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def new_message(cls, message: Message) -> Change:
        return cls("new_message", message.session_id, message=message)

    @classmethod
    def session_update(cls, session: Session) -> Change:
        return cls("session_update", session.id, session=session)

    @classmethod
    def memory_update(cls, memory: MemoryChange) -> Change:
        return cls("memory_update", memory.session_id, memory=memory)

    @classmethod
    def typing_update(cls, typing: TypingChange) -> Change:
        return cls("typing", typing.session_id, typing=typing)

    @classmethod
    def presence_update(cls, presence: PresenceChange) -> Change:
        return cls("presence", presence.session_id, presence=presence)

    def data(self) -> JsonObject:
        if self.message is not None:
            return self.message.to_json()
        if self.session is not None:
            return self.session.to_json()
        if self.typing is not None:
            return self.typing.to_json()
        if self.presence is not None:
            return self.presence.to_json()
        assert self.memory is not None
        return self.memory.to_json()

    def event_json(self) -> str:
        """The WebSocket/SSE event text, serialized once however many sockets receive it:
        an event's text is the same for everyone allowed to see it."""
        text = self._cache.get("event")
        if text is None:
            text = json.dumps(
                {"type": self.kind, "session_id": self.session_id, "data": self.data()}, ensure_ascii=False
            )
            self._cache["event"] = text
        return text

    def derived(self, key: str, build: Callable[[Change], T]) -> T:
        """`build(self)`, computed once per change under `key` (e.g. the WebSocket frame of
        `event_json()`: the same bytes for every socket allowed to see it)."""
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = build(self)
        return cast(T, value)


@dataclass(frozen=True)
class HubStats:
    subscribers: int
    dropped: int
    published: int


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
