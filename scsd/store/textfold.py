"""Folding text for search: case- and accent-insensitive, the same for documents and queries."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any


def fold(text: str) -> str:
    """Lower-case, compatibility-normalized text without combining marks ("Café" → "cafe")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def metadata_text(metadata: Mapping[str, Any]) -> str:
    """The searchable words of metadata: its scalar values, nested ones included."""
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif value is not None and not isinstance(value, bool):
            parts.append(str(value))

    walk(metadata)
    return " ".join(parts)


def searchable(sender: str, content: str, metadata: Mapping[str, Any], with_metadata: bool) -> str:
    """The folded text a message is searched by: sender, content and (optionally) metadata."""
    text = f"{sender} {content}"
    if with_metadata:
        text = f"{text} {metadata_text(metadata)}"
    return fold(text)
