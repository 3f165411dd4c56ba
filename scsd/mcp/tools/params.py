"""Parameter types shared by the tools, with what their published schema says about them."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import Field

SESSION_PATTERN: Final = "^session_[0-9a-f]{16}$"
# Memory tools: empty means global; list_memory also takes "all".
SCOPE_PATTERN: Final = "^(session_[0-9a-f]{16})?$"
SCOPES_PATTERN: Final = "^(session_[0-9a-f]{16}|all)?$"

AuthToken = Annotated[
    str | None,
    Field(
        description="Your token from authenticate_agent; or send 'Authorization: Bearer <token>' "
        "instead (over scsd stdio neither is needed)."
    ),
]
SessionId = Annotated[
    str, Field(pattern=SESSION_PATTERN, description="The session's id, from create_session or list_sessions.")
]
Metadata = Annotated[
    dict[str, Any] | str | None,
    Field(
        description="A JSON object (or the same as JSON text): at most 50 keys of up to 100 "
        "characters, 10,000 characters as JSON, nested at most 64 levels."
    ),
]
Visibility = Literal["public", "private", "agent_only", "admin_only"]
# A filter or search scope: only ever narrows what the caller may see ("" and "all": no filter).
Narrowing = Literal["all", "public", "private", "agent_only", "admin_only", ""]
# Ids stay below 2**53 so that every JSON client (JavaScript numbers) reads the bound exactly.
MessageId = Annotated[int, Field(ge=0, le=2**53 - 1)]
Offset = Annotated[int, Field(ge=0, le=2**31, description="How many to skip, for paging.")]
