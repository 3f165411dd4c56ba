"""Search candidates from the trigram full-text index, restricted to what the viewer may see."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import sqlite_utils

from scsd.errors import NotFound
from scsd.events import Identity, Message
from scsd.schema import fts_session
from scsd.store._lane import MESSAGE_COLUMNS, Lane, session_exists, to_message
from scsd.store.messages import visible_where

MAX_TRIGRAMS: Final = 64


def trigrams(folded: str) -> list[str]:
    """The distinct 3-character windows of `folded`, at most MAX_TRIGRAMS, in order."""
    seen: dict[str, None] = {}
    for i in range(len(folded) - 2):
        gram = folded[i : i + 3]
        if gram.strip():
            seen.setdefault(gram, None)
    return list(seen)[:MAX_TRIGRAMS]


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class SearchOps(Lane):
    async def search_candidates(
        self,
        session_id: str,
        viewer: Identity,
        visibilities: Sequence[str],
        folded_query: str,
        limit: int,
    ) -> list[tuple[Message, str]]:
        """Up to `limit` visible messages sharing the most trigrams with the query (best
        first), each with its folded searchable text. A query shorter than three characters
        cannot use the index: then every visible message containing it is a candidate.

        Raises:
            NotFound: no such session.
        """
        where, args = visible_where(session_id, viewer, visibilities)
        grams = trigrams(folded_query)
        session_filter = f"sid : {_quote(fts_session(session_id))}"
        if grams:
            match = f"{session_filter} AND text : ({' OR '.join(_quote(g) for g in grams)})"
        else:
            match = session_filter
        sql = (
            f"SELECT {MESSAGE_COLUMNS}, f.text FROM messages_fts f JOIN messages m ON m.id = f.rowid"
            f" WHERE messages_fts MATCH ? AND {where}"
        )

        def run(db: sqlite_utils.Database) -> list[tuple[Message, str]]:
            if not session_exists(db, session_id):
                raise NotFound("session", session_id)
            if grams:
                rows = db.execute(f"{sql} ORDER BY f.rank LIMIT ?", [match, *args, limit]).fetchall()
            else:
                rows = [r for r in db.execute(sql, [match, *args]) if folded_query in r[-1]][:limit]
            return [(to_message(r[:-1]), str(r[-1])) for r in rows]

        return await self._call(run)
