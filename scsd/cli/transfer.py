"""`scsd backup PATH`, `scsd export SESSION_ID`, `scsd import FILE`: data in and out of the store.

Each opens the store itself (no daemon needed, none disturbed): the backup is an online copy,
export reads through the visibility rule, import writes one session in one transaction.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

import trio

from scsd.access.tokens import normalize_agent_type
from scsd.access.validation import MAX_CONTENT
from scsd.config import Config
from scsd.errors import AlreadyExists, NotFound, StoreUnavailable
from scsd.model import VISIBILITIES, Identity, Message, Session, iso_from_micros
from scsd.process.keyfile import prepare_data_dir
from scsd.store import Store, open_store

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_REFUSED: Final = 2
PAGE_SIZE: Final = 1000
EVERYTHING: Final = Identity("scsd-export", "admin", frozenset({"admin"}))
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND: Final = timedelta(microseconds=1)
_EXAMPLE_TIME: Final = "2025-01-31T12:00:00.000000Z"
T = TypeVar("T")


class Refused(Exception):
    """The command cannot do what was asked; the message says why and what to do instead."""


def run(config: Config) -> int:
    """Run `backup`, `export` or `import` (by `config.command`); return the exit status:
    0 done, 1 the backup's integrity check failed, 2 refused (message on stderr)."""
    commands = {"backup": _backup, "export": _export, "import": _import}
    try:
        return commands[config.command](config)
    except Refused as e:
        print(f"scsd {config.command}: {e}", file=sys.stderr)
        return EXIT_REFUSED


def _with_store(path: Path, fn: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store at `path`, run `fn` on it in a fresh trio run, close the store."""

    async def main() -> T:
        async with open_store(path) as store:
            return await fn(store)

    try:
        return trio.run(main)
    except StoreUnavailable as e:
        raise Refused(str(e)) from None


def _existing_database(config: Config) -> Path:
    path = config.database
    if not path.is_file():
        raise Refused(f"no database at {path}; pass the daemon's --data-dir or --db")
    return path


def _backup(config: Config) -> int:
    target = Path(config.command_args["path"]).expanduser().absolute()
    if target.exists():
        raise Refused(f"{target} exists; a backup never overwrites: choose a new path")
    if not target.parent.is_dir():
        raise Refused(f"directory {target.parent} does not exist; create it first")
    try:
        report = _with_store(_existing_database(config), lambda store: store.backup(target))
    except AlreadyExists:
        raise Refused(f"{target} appeared while backing up; nothing was overwritten") from None
    except OSError as e:
        raise Refused(f"cannot write {target}: {e.strerror}") from None
    if not report.ok:
        print(f"scsd backup: the copy at {target} failed its integrity check: {report.integrity}",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    print(
        f"backup of {config.database} written to {target}: {report.size_bytes} bytes, integrity ok, "
        f"{report.sessions} sessions, {report.messages} messages, {report.memory_entries} memory entries"
    )
    return EXIT_OK


def _export(config: Config) -> int:
    args = config.command_args
    session_id = str(args["session_id"])
    viewer = EVERYTHING
    if args.get("as_agent") is not None:
        kind = normalize_agent_type(str(args["as_type"]))
        viewer = Identity(str(args["as_agent"]), kind, frozenset({"read"}))
    try:
        session, messages = _with_store(
            _existing_database(config), lambda store: read_session(store, session_id, viewer)
        )
    except NotFound:
        raise Refused(f"no session {session_id!r} in {config.database}") from None
    text = to_markdown(session, messages) if args.get("format") == "markdown" else to_jsonl(session, messages)
    output = args.get("output")
    if output is None:
        sys.stdout.buffer.write(text.encode())
        sys.stdout.flush()
    else:
        Path(output).write_text(text, encoding="utf-8")
        print(f"exported {session_id} ({len(messages)} messages) to {output}", file=sys.stderr)
    return EXIT_OK


async def read_session(store: Store, session_id: str, viewer: Identity) -> tuple[Session, list[Message]]:
    """The session and every message of it `viewer` may see, oldest first.

    Raises:
        NotFound: no such session.
    """
    session = await store.get_session(session_id)
    messages: list[Message] = []
    while True:
        since = messages[-1].id if messages else 0
        page = await store.get_messages(
            session_id, viewer, visibilities=VISIBILITIES, since_id=since, limit=PAGE_SIZE
        )
        messages += page.messages
        if len(page.messages) < PAGE_SIZE:
            return session, messages


def to_jsonl(session: Session, messages: Sequence[Message]) -> str:
    """The export format: a `session` line, then one `message` line per message."""
    lines = [{"type": "session", **session.to_json()}]
    lines += [{"type": "message", **m.to_json()} for m in messages]
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def to_markdown(session: Session, messages: Sequence[Message]) -> str:
    """A readable transcript: the purpose as title, then one section per message, content as-is."""
    out = [
        f"# {' '.join(session.purpose.split())}",
        "",
        f"- session: {_code(session.id)}, created by {session.created_by}",
        f"- created {iso_from_micros(session.created_at)}, updated {iso_from_micros(session.updated_at)}",
        f"- {'active' if session.is_active else 'inactive'}, messages: {len(messages)}",
    ]
    if session.metadata:
        out.append(f"- metadata: {_code(json.dumps(dict(session.metadata), ensure_ascii=False))}")
    for m in messages:
        when = iso_from_micros(m.timestamp)
        out += ["", f"## #{m.id} {m.sender} ({m.sender_type}), {m.visibility}, {when}", ""]
        notes = [] if m.message_type == "agent_response" else [f"type {m.message_type}"]
        if m.parent_message_id is not None:
            notes.append(f"reply to #{m.parent_message_id}")
        if m.metadata:
            notes.append(f"metadata {_code(json.dumps(dict(m.metadata), ensure_ascii=False))}")
        if notes:
            out += ["> " + "; ".join(notes), ""]
        out.append(m.content)
    return "\n".join(out) + "\n"


def _code(text: str) -> str:
    fence = "`"
    while fence in text:
        fence += "`"
    return f"{fence} {text} {fence}" if "`" in text else f"`{text}`"


def _import(config: Config) -> int:
    source = Path(config.command_args["file"])
    try:
        with source.open(encoding="utf-8") as f:
            session, messages = parse_export(f, str(source))
    except (OSError, UnicodeDecodeError) as e:
        raise Refused(f"cannot read {source}: {e}") from None
    known: set[int] = set()
    for m in messages:
        if m.parent_message_id is not None and m.parent_message_id not in known:
            print(f"scsd import: message {m.id} replies to {m.parent_message_id}, which is not in the file; "
                  "imported without a parent", file=sys.stderr)  # fmt: skip
        known.add(m.id)
    if config.db_path is None:
        prepare_data_dir(config.data_dir)
    try:
        new_ids = _with_store(config.database, lambda store: store.import_session(session, messages))
    except AlreadyExists:
        raise Refused(
            f"session {session.id} already exists in {config.database}; delete it first "
            "or import into another database with --db"
        ) from None
    print(f"imported {session.id} ({len(new_ids)} messages) into {config.database}")
    return EXIT_OK


def parse_export(lines: Iterable[str], name: str) -> tuple[Session, list[Message]]:
    """Read an export (JSONL: a `session` line, then `message` lines) back into values.

    Raises:
        Refused: a line is not JSON or lacks or mistypes a field; the message names the line.
    """
    session: Session | None = None
    messages: list[Message] = []
    seen: set[int] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            raise Refused(f"{name}, line {number}: not valid JSON ({e.msg} at column {e.colno})") from None
        try:
            fields = _Fields(value)
            if session is None:
                session = fields.session()
            else:
                message = fields.message(session.id)
                if message.id in seen:
                    raise ValueError(f"message id {message.id} appears twice")
                seen.add(message.id)
                messages.append(message)
        except ValueError as e:
            raise Refused(f"{name}, line {number}: {e}") from None
    if session is None:
        raise Refused(f"{name} is empty; expected a session line, then message lines (scsd export)")
    return session, messages


class _Fields:
    """One parsed line; each accessor raises ValueError naming the field that is wrong."""

    def __init__(self, value: Any) -> None:
        if not isinstance(value, dict):
            raise ValueError("expected a JSON object")
        self._obj: dict[str, Any] = value

    def session(self) -> Session:
        if self._obj.get("type") != "session":
            raise ValueError('the first line must be the session ({"type": "session", ...})')
        return Session(self.text("id"), self.text("purpose"), self.text("created_by"),
                       self.time("created_at"), self.time("updated_at"), self.get("is_active", bool),
                       self.get("metadata", dict))  # fmt: skip

    def message(self, session_id: str) -> Message:
        if self._obj.get("type") != "message":
            raise ValueError('expected a message line ({"type": "message", ...})')
        if self._obj.get("session_id", session_id) != session_id:
            raise ValueError(f"message of another session ({self._obj['session_id']!r}, not {session_id!r})")
        content = self.get("content", str)
        if not content.strip() or len(content) > MAX_CONTENT:
            raise ValueError(f"field 'content' must be non-blank and at most {MAX_CONTENT} characters")
        visibility = self.text("visibility")
        if visibility not in VISIBILITIES:
            raise ValueError(f"field 'visibility' must be one of {', '.join(VISIBILITIES)}")
        parent = self._obj.get("parent_message_id")
        if parent is not None and (not isinstance(parent, int) or isinstance(parent, bool)):
            raise ValueError("field 'parent_message_id' must be an integer or null")
        return Message(self.get("id", int), session_id, self.text("sender"), self.text("sender_type"),
                       content, visibility, self.text("message_type"), self.get("metadata", dict),
                       self.time("timestamp"), parent)  # fmt: skip

    def get(self, name: str, kind: type[Any]) -> Any:
        if name not in self._obj:
            raise ValueError(f"missing field {name!r}")
        value = self._obj[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"field {name!r} must be of type {kind.__name__}, got {value!r:.40}")
        return value

    def text(self, name: str) -> str:
        value: str = self.get(name, str)
        if not value.strip():
            raise ValueError(f"field {name!r} must not be blank")
        return value

    def time(self, name: str) -> int:
        """An ISO 8601 time with a zone, as integer microseconds since the epoch (exactly)."""
        text = self.get(name, str)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise ValueError(f"field {name!r} must be an ISO 8601 time with a zone, like {_EXAMPLE_TIME}")
        return (moment - _EPOCH) // _ONE_MICROSECOND
