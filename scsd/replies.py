"""The reply envelope of every tool: `success`, and for errors a code and what to do (SPEC §5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

JsonObject = dict[str, Any]


class ToolError(Exception):
    """A failure the caller can understand; becomes the error envelope, never a traceback."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        suggestions: Sequence[str] = (),
        recoverable: bool = True,
        severity: str = "warning",
        context: JsonObject | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.suggestions = tuple(suggestions)
        self.recoverable = recoverable
        self.severity = severity
        self.context = context or {}

    def reply(self) -> JsonObject:
        body: JsonObject = {
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


def ok(**fields: Any) -> JsonObject:
    return {"success": True, **fields}


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
