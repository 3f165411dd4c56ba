"""Search candidates from the trigram full-text index, restricted to what the viewer may see."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final

import sqlite_utils

from scsd.errors import NotFound
from scsd.model import Identity, Message
from scsd.store._lane import MESSAGE_COLUMNS, Lane, session_exists, to_message
from scsd.store.messages import visible_where
from scsd.store.schema import fts_session
from scsd.store.textfold import searchable

MAX_TRIGRAMS: Final = 64
# The session column is matched on the id's last 8 hex digits (6 trigrams) rather than all
# 16: as selective for random ids (other rows sharing them are dropped by the join's
# `session_id = ?`), and FTS5 reads half as many doclists per query.
SESSION_WINDOW: Final = 8
# A query trigram found in at most this share of the newest candidates is "rare": the
# messages holding it are looked for in the whole session, not only among the newest.
RARE_SHARE: Final = 0.1
# Messages holding all of the query's this-many least common trigrams (of those seen among
# the newest candidates) are looked for in the whole session too: words found together.
TOGETHER: Final = 2


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


def _any_of(grams: Sequence[str]) -> str:
    return f"text : ({' OR '.join(_quote(g) for g in grams)})"


def _all_of(grams: Sequence[str]) -> str:
    return f"text : ({' AND '.join(_quote(g) for g in grams)})"


def distinctive(grams: Sequence[str], texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """From a sample of candidate `texts`, the query's rare trigrams (in at most RARE_SHARE
    of them) and its TOGETHER least common ones that the sample holds at all (a trigram it
    never holds is likelier a typo than a rare word), unless all of those are rare already."""
    counts = {g: sum(g in t for t in texts) for g in grams}
    most = RARE_SHARE * len(texts)
    rare = [g for g in grams if counts[g] <= most]
    least = sorted((g for g in grams if counts[g]), key=counts.__getitem__)[:TOGETHER]
    if len(least) < TOGETHER or all(counts[g] <= most for g in least):
        least = []
    return rare, least


class SearchOps(Lane):
    async def search_candidates(
        self,
        session_id: str,
        viewer: Identity,
        visibilities: Sequence[str],
        folded_query: str,
        limit: int,
        *,
        with_metadata: bool = True,
    ) -> list[tuple[int, str]]:
        """Visible messages sharing trigrams with the query, as (id, folded searchable text)
        pairs, each at most once; the text includes metadata values only `with_metadata`.
        Callers rank them: nothing here orders by relevance, since FTS5's bm25 ranks every
        match of the session (~90 ms of a ~100 ms search among 1,000,000 messages).

        Which messages: the newest `limit` sharing any trigram with the query; and, when
        there are more, the newest `limit` holding any of its rare trigrams and the newest
        `limit` holding its TOGETHER least common ones (see `distinctive`): the distinctive
        part of the query is looked for in the whole session, whatever its age. A query
        shorter than three characters cannot use the index: then the newest `limit` visible
        messages containing it.

        Raises:
            NotFound: no such session.
        """
        where, args = visible_where(session_id, viewer, visibilities)
        grams = trigrams(folded_query)
        session_filter = f"sid : {_quote(fts_session(session_id)[-SESSION_WINDOW:])}"
        columns = "m.id, f.text" if with_metadata else "m.id, f.text, m.sender, m.content"
        sql = (
            f"SELECT {columns} FROM messages_fts f JOIN messages m ON m.id = f.rowid"
            f" WHERE messages_fts MATCH ? AND {where} ORDER BY f.rowid DESC"
        )

        def newest(db: sqlite_utils.Database, text_match: str) -> list[Any]:
            match = f"{session_filter} AND {text_match}"
            return db.execute(f"{sql} LIMIT ?", [match, *args, limit]).fetchall()

        def run(db: sqlite_utils.Database) -> list[tuple[int, str]]:
            if not session_exists(db, session_id):
                raise NotFound("session", session_id)
            if not grams:
                rows = [r for r in db.execute(sql, [session_filter, *args]) if folded_query in r[1]][:limit]
                return _texts(rows, with_metadata)
            rows = newest(db, _any_of(grams))
            if len(rows) < limit:
                return _texts(rows, with_metadata)  # every match of the session
            rare, least = distinctive(grams, [r[1] for r in rows])
            more = [_any_of(rare)] if rare and len(rare) < len(grams) else []
            more += [_all_of(least)] if least else []
            seen = {r[0] for r in rows}
            for text_match in more:
                found = [r for r in newest(db, text_match) if r[0] not in seen]
                seen.update(r[0] for r in found)
                rows += found
            return _texts(rows, with_metadata)

        return await self._call(run)

    async def messages_by_id(self, session_id: str, ids: Collection[int]) -> dict[int, Message]:
        """The messages of this session with these ids (those that exist), by id. No
        visibility check: pass only ids a visibility-checked read returned."""
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ? AND id IN ({marks})"

        def run(db: sqlite_utils.Database) -> dict[int, Message]:
            return {r[0]: to_message(r) for r in db.execute(sql, [session_id, *ids])}

        return await self._call(run)


def _texts(rows: Sequence[Any], with_metadata: bool) -> list[tuple[int, str]]:
    if with_metadata:
        return [(r[0], r[1]) for r in rows]
    # The index holds sender, content and metadata; without metadata, fold the first two.
    return [(r[0], searchable(r[2], r[3], {}, False)) for r in rows]
