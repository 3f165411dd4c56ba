"""Exceptions that carry a message a user can act on."""

from __future__ import annotations


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
