"""Exceptions that cross layers, each with a message a user can act on; and `ToolError`, the
failure every front end (MCP tools, sockets, SSE, the UI) turns into its own error shape."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


class StartupError(Exception):
    """The daemon cannot start; the message says what is wrong and how to fix it.

    The CLI prints it as one line and exits with status 2.
    """


class ConfigError(StartupError):
    """A configuration value is invalid."""


class NotFound(LookupError):
    """A session, message or memory entry that the caller named does not exist."""

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


class StoreUnavailable(Exception):
    """The database could not be read or written (disk full, I/O error, locked too long).

    `reason` says which, so a caller can say what to do next: "busy" (locked by another
    process past the busy timeout: retry), "disk_full", "read_only", "corrupt" or "io_error".
    A failed write was rolled back: nothing of it was stored.
    """

    def __init__(self, message: str, reason: str = "io_error") -> None:
        super().__init__(message)
        self.reason = reason


class AlreadyExists(Exception):
    """The caller asked not to overwrite, and the thing exists."""


class ToolError(Exception):
    """A failure the caller can understand: the error envelope of SPEC §5 (`reply()`), never
    a traceback. Sockets, SSE and the UI show its `code` and `message` their own way."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        suggestions: Sequence[str] = (),
        recoverable: bool = True,
        severity: str = "warning",
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggestions = tuple(suggestions)
        self.recoverable = recoverable
        self.severity = severity
        self.context = context or {}

    def reply(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "success": False,
            "error": self.message,
            "code": self.code,
            "recoverable": self.recoverable,
            "suggestions": list(self.suggestions),
            "severity": self.severity,
            "timestamp": now_iso(),
        }
        if self.context:
            body["context"] = self.context
        return body


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def auth_required() -> ToolError:
    return ToolError(
        "AUTH_REQUIRED",
        "This tool needs an identity: pass auth_token, or send 'Authorization: Bearer <token>'.",
        suggestions=["Call authenticate_agent with the agent API key in the X-API-Key header to get a token"],
    )


def permission_denied(permission: str, have: frozenset[str]) -> ToolError:
    return ToolError(
        "PERMISSION_DENIED",
        f"This action needs the '{permission}' permission; your token has "
        f"{', '.join(sorted(have)) or 'none'}.",
        suggestions=[
            "Authenticate with an agent type that has it"
            + (", using the admin key" if permission == "admin" else "")
        ],
        recoverable=False,
        context={"required": permission, "current_permissions": sorted(have)},
    )


def session_not_found(session_id: str) -> ToolError:
    return ToolError(
        "SESSION_NOT_FOUND",
        f"Session {session_id!r} does not exist.",
        suggestions=["Check the id, or call list_sessions / create_session"],
        context={"resource_id": session_id},
    )


def invalid_input(message: str, field: str, *suggestions: str) -> ToolError:
    return ToolError("INVALID_INPUT", message, suggestions=suggestions, context={"field": field})
