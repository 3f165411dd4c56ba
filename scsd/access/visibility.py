"""Who may see which message: the one rule every read path uses (SPEC §4).

`can_see` is the rule. `sql_clause` states the same rule for the store's queries, so that
paging happens after filtering; a test checks the two agree on every combination.
"""

from __future__ import annotations

from scsd.model import VISIBILITIES, Identity, Message


def can_see(viewer: Identity, sender: str, sender_type: str, visibility: str) -> bool:
    """Whether `viewer` may see a message with this sender and visibility.

    public: everyone; private: the sender only; agent_only: agents of the sender's type;
    admin_only: admins only. Admins see everything. Agent types are compared exactly
    (`auth` stores them lower-cased).
    """
    if viewer.is_admin:
        return True
    if visibility == "public":
        return True
    if visibility == "private":
        return sender == viewer.agent_id
    if visibility == "agent_only":
        return sender_type == viewer.agent_type
    return False


def can_see_message(viewer: Identity, message: Message) -> bool:
    return can_see(viewer, message.sender, message.sender_type, message.visibility)


def sql_clause(viewer: Identity, column_prefix: str = "") -> tuple[str, list[str]]:
    """The `can_see` rule as an SQL condition over the messages table, with its parameters."""
    p = column_prefix
    if viewer.is_admin:
        return "1", []
    return (
        f"({p}visibility = 'public'"
        f" OR ({p}visibility = 'private' AND {p}sender = ?)"
        f" OR ({p}visibility = 'agent_only' AND {p}sender_type = ?))",
        [viewer.agent_id, viewer.agent_type],
    )


def narrow(requested: str | None) -> tuple[str, ...]:
    """The visibilities a `visibility_filter` asks for; it can only narrow, never widen.

    Raises:
        ValueError: the filter is not one of the four visibilities.
    """
    if requested is None or requested == "" or requested == "all":
        return VISIBILITIES
    if requested not in VISIBILITIES:
        raise ValueError(requested)
    return (requested,)
