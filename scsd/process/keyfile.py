"""The secrets file: agent API key, admin key and JWT signing secret, generated on first start."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from scsd.config import Config, Secret
from scsd.errors import StartupError

SECRETS_FILENAME: Final = "secrets.json"
_FIELDS: Final = ("api_key", "admin_key", "jwt_secret")
# How each secret is generated, on first start and by `scsd keys rotate`.
_GENERATORS: Final[Mapping[str, Callable[[], str]]] = {
    "api_key": lambda: "scsd_agent_" + secrets.token_urlsafe(32),
    "admin_key": lambda: "scsd_admin_" + secrets.token_urlsafe(32),
    "jwt_secret": lambda: secrets.token_urlsafe(48),
}


@dataclass(frozen=True)
class Keys:
    """The three secrets the daemon runs with, and where the file lives."""

    api_key: Secret
    admin_key: Secret
    jwt_secret: Secret
    path: Path


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data dir (0700) if needed and check that it is writable.

    Raises:
        StartupError: the directory cannot be created or written.
    """
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise StartupError(
            f"cannot create data dir {data_dir}: {e.strerror}; "
            "pass a writable --data-dir or set SHARED_CONTEXT_DATA_DIR"
        ) from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise StartupError(
            f"data dir {data_dir} is not writable; pass a writable --data-dir or set SHARED_CONTEXT_DATA_DIR"
        )


def load_or_create_keys(config: Config) -> Keys:
    """Read the secrets file in the data dir, creating it (mode 0600) on first use.

    Secrets given in the configuration (environment) win over the file's.

    Raises:
        StartupError: the file exists but is unreadable or corrupt.
    """
    path = config.data_dir / SECRETS_FILENAME
    stored = _read(path) if path.exists() else _create(path)
    given = {"api_key": config.api_key, "admin_key": config.admin_key, "jwt_secret": config.jwt_secret}
    values = {name: given[name] or Secret(stored[name]) for name in _FIELDS}
    if values["api_key"] == values["admin_key"]:
        raise StartupError("the agent API key and the admin key must differ; change one of them")
    return Keys(path=path, **values)


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise StartupError(f"cannot read secrets file {path}: {e.strerror}") from None
    except ValueError:
        raise StartupError(
            f"secrets file {path} is not valid JSON; restore it from backup or delete it "
            "to generate new keys (existing tokens will stop working)"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in _FIELDS):
        raise StartupError(f"secrets file {path} lacks one of {', '.join(_FIELDS)}; delete it to regenerate")
    return {k: data[k] for k in _FIELDS}


def _create(path: Path) -> dict[str, str]:
    values = {name: generate() for name, generate in _GENERATORS.items()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # 0600 from the first byte; link() publishes it only if no other process won the race.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(values, f, indent=2)
            f.write("\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read(path)  # another process (say `scsd stdio`) created it first
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as e:
        raise StartupError(f"cannot write secrets file {path}: {e.strerror}") from None
    return values


def rotate_secrets(path: Path, names: Iterable[str]) -> dict[str, str]:
    """Give the named secrets new values in the secrets file, keeping the others.

    The file is replaced atomically (written 0600 beside it, then renamed over it), so a
    process starting meanwhile reads either the old file or the new one, never half of one.

    Returns:
        The new values of the rotated secrets, by name.

    Raises:
        StartupError: the file is unreadable or corrupt, or cannot be rewritten.
    """
    stored = _read(path)
    rotated = {name: _GENERATORS[name]() for name in names}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)  # a leftover could carry a wider mode; O_EXCL gives us 0600
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(stored | rotated, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())  # the old secrets are gone after the rename: don't lose the new ones
        os.replace(tmp, path)
    except OSError as e:
        raise StartupError(f"cannot write secrets file {path}: {e.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return rotated
