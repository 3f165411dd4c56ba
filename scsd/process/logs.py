"""Log line shapes (text, or one JSON object a line) and the redaction of secrets from them."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Final, TextIO

REDACTED: Final = "[redacted]"
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A JWT (base64url header `{"...` . payload . signature) and the generated keys' prefixes.
_ALWAYS: Final = r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|scsd_(?:agent|admin)_[A-Za-z0-9_-]+"


class SecretFilter(logging.Filter):
    """Masks secrets in every record that reaches the handler it is attached to.

    Always masked: anything shaped like a JWT, and generated keys (`scsd_agent_…`,
    `scsd_admin_…`). Other values, such as keys set by environment or the JWT signing
    secret, are masked once registered with `add()`. Never drops a record.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._pattern = re.compile(_ALWAYS)

    def add(self, secret: str) -> None:
        """Mask `secret` wherever it appears from now on (ignored if empty)."""
        if secret and secret not in self._secrets:
            self._secrets.add(secret)
            exact = [re.escape(s) for s in sorted(self._secrets, key=len, reverse=True)]
            self._pattern = re.compile("|".join([*exact, _ALWAYS]))

    def redact(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # Render the traceback here so the formatter prints the masked text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: `ts` (ISO 8601 UTC, `Z`), `level`, `logger`, `message`, and
    `exc_info` / `stack_info` (the text) when present."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        line: dict[str, str] = {
            "ts": ts.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def handler(fmt: str, secrets: SecretFilter, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing `fmt` ("text" or "json") lines to `stream` (stderr), masked by `secrets`."""
    out = logging.StreamHandler(stream)
    out.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    out.addFilter(secrets)
    return out
