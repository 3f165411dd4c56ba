"""Building the `Config`: defaults < TOML file (`--config`) < environment < flags.

Each value remembers where it came from (`Config.sources`), so a bad one is reported under
the name the user wrote: the file and key, the variable, or the flag.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from scsd.config import COMMIT_SIGNALS, LOG_FORMATS, LOG_LEVELS, Config, Secret
from scsd.config.args import build_parser, check_flags
from scsd.errors import ConfigError

_ENV_FIELDS: Final[Mapping[str, str]] = {
    "SHARED_CONTEXT_HOST": "host",
    "SHARED_CONTEXT_PORT": "port",
    "SHARED_CONTEXT_WS_HOST": "ws_host",
    "SHARED_CONTEXT_WS_PORT": "ws_port",
    "SHARED_CONTEXT_DB": "db_path",
    "SHARED_CONTEXT_DATA_DIR": "data_dir",
    "SHARED_CONTEXT_API_KEY": "api_key",
    "SHARED_CONTEXT_ADMIN_KEY": "admin_key",
    "SHARED_CONTEXT_JWT_SECRET": "jwt_secret",
    "SHARED_CONTEXT_POLL_INTERVAL": "poll_seconds",
    "SHARED_CONTEXT_COMMIT_SIGNAL": "commit_signal",
    "SHARED_CONTEXT_ALLOWED_ORIGINS": "allowed_origins",
    "SHARED_CONTEXT_AGENT_ID": "agent_id",
    "SHARED_CONTEXT_AGENT_TYPE": "agent_type",
    "SHARED_CONTEXT_CERTFILE": "certfile",
    "SHARED_CONTEXT_KEYFILE": "keyfile",
    "LOG_LEVEL": "log_level",
    "SHARED_CONTEXT_LOG_FORMAT": "log_format",
}

_SECONDS_BOUNDS: Final[Mapping[str, tuple[float, float]]] = {
    "poll_seconds": (0.001, 60),
    "safety_poll_seconds": (0.01, 3600),
    "shutdown_grace_seconds": (0.001, 60),
    "sweep_interval_seconds": (0.01, 3600),
    "sse_heartbeat_seconds": (0.01, 300),
}

_FLAGS: Final[Mapping[str, str]] = {
    "--host": "host",
    "--port": "port",
    "--ws-host": "ws_host",
    "--ws-port": "ws_port",
    "--db": "db_path",
    "--data-dir": "data_dir",
    "--log-level": "log_level",
    "--log-format": "log_format",
    "--agent-id": "agent_id",
    "--agent-type": "agent_type",
    "--certfile": "certfile",
    "--keyfile": "keyfile",
}

# TOML keys are the field names, plus these friendlier spellings.
_TOML_ALIASES: Final[Mapping[str, str]] = {
    "db": "db_path",
    "poll_interval": "poll_seconds",
    "shutdown_grace": "shutdown_grace_seconds",
}


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """`$STATE_DIRECTORY` (systemd), else `$XDG_DATA_HOME/scsd`, else `~/.local/share/scsd`."""
    if environ.get("STATE_DIRECTORY"):
        # systemd may pass several colon-separated directories; the first is ours.
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    xdg = environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path(environ.get("HOME", str(Path.home()))) / ".local/share"
    return base / "scsd"


def load_config(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Build the Config: defaults < TOML (`--config`) < environment < flags.

    Raises:
        ConfigError: a flag or value is invalid; the message names it and the fix.
    """
    parser = build_parser()
    check_flags(parser, argv)
    args = vars(parser.parse_args(list(argv)))
    raw: dict[str, tuple[Any, str | None]] = {"data_dir": (default_data_dir(environ), None)}
    config_file = args.pop("config_file", None)
    if config_file is not None:
        raw.update(_read_toml(Path(config_file)))
    for env_name, field_name in _ENV_FIELDS.items():
        if environ.get(env_name, "") != "":
            raw[field_name] = (environ[env_name], env_name)
    command = args.pop("command", None) or "serve"
    command_args = {k.removeprefix("cmd_"): args.pop(k) for k in list(args) if k.startswith("cmd_")}
    flags = {field_name: flag for flag, field_name in _FLAGS.items()}
    raw.update((name, (value, flags.get(name, f"--{name}"))) for name, value in args.items())
    return _validate(replace(Config(), command=command, command_args=MappingProxyType(command_args)), raw)


def _read_toml(path: Path) -> dict[str, tuple[Any, str]]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    known = {f for f in Config.__dataclass_fields__ if f not in ("command", "command_args", "sources")}
    out: dict[str, tuple[Any, str]] = {}
    for key, value in data.items():
        name = _TOML_ALIASES.get(key, key.replace("-", "_"))
        if name not in known:
            raise ConfigError(f"config file {path}: unknown key {key!r}")
        out[name] = (value, f"{key} in {path}")
    return out


def _validate(base: Config, raw: Mapping[str, tuple[Any, str | None]]) -> Config:
    values: dict[str, Any] = {}
    sources = {name: where for name, (_, where) in raw.items() if where is not None}
    for name, (value, where) in raw.items():
        values[name] = _convert(name, value, where or _flag(name))
    cfg = replace(base, **values, sources=MappingProxyType(sources))
    if cfg.ws_port == cfg.port and cfg.port != 0 and cfg.ws_host == cfg.host:
        raise ConfigError(
            f"HTTP and WebSocket ports are both {cfg.port} ({_named(cfg, 'port')}, "
            f"{_named(cfg, 'ws_port')}); give them different ports"
        )
    _check_tls_files(cfg)
    return cfg


def _named(cfg: Config, name: str) -> str:
    """Where the setting `name` of `cfg` came from, or how a user would set it."""
    return cfg.sources.get(name) or _flag(name)


def _check_tls_files(cfg: Config) -> None:
    """Both of certfile and keyfile or neither; for `serve`, both readable files.

    Other subcommands only need to know that TLS is on (to say https://), and may run as a
    user who cannot read the service's key, so they do not open the files.
    """
    if (cfg.certfile is None) != (cfg.keyfile is None):
        given, missing = ("certfile", "keyfile") if cfg.certfile is not None else ("keyfile", "certfile")
        raise ConfigError(
            f"{_named(cfg, given)} is set but {_flag(missing)} is not; TLS needs both, or neither"
        )
    if cfg.command != "serve":
        return
    for name in ("certfile", "keyfile"):
        path: Path | None = getattr(cfg, name)
        if path is None:
            continue
        if not path.is_file():
            raise ConfigError(f"{_named(cfg, name)}: {path} does not exist or is not a file")
        if not os.access(path, os.R_OK):
            raise ConfigError(
                f"{_named(cfg, name)}: {path} is not readable by this user; fix its permissions"
            )


def _convert(name: str, value: Any, where: str) -> Any:
    """`value` of setting `name` as the Config holds it; `where` names it in an error."""
    if name in ("port", "ws_port"):
        port = _number(where, value, int)
        if not 0 <= port <= 65535:
            raise ConfigError(f"{where} must be between 0 and 65535, got {value!r}")
        return port
    if name in _SECONDS_BOUNDS:
        low, high = _SECONDS_BOUNDS[name]
        seconds = _number(where, value, float)
        if not low <= seconds <= high:
            raise ConfigError(f"{where} must be between {low:g} and {high:g} seconds, got {value!r}")
        return seconds
    if name in (
        "subscriber_buffer",
        "token_ttl_seconds",
        "max_sockets_per_identity",
        "max_subscriptions_per_socket",
    ):
        n = _number(where, value, int)
        if n < 1:
            raise ConfigError(f"{where} must be a positive integer, got {value!r}")
        return n
    if name in ("data_dir", "db_path", "certfile", "keyfile"):
        if not str(value).strip():
            raise ConfigError(f"{where} must not be empty")
        return Path(str(value)).expanduser()
    if name == "log_level":
        level = str(value).upper()
        if level not in LOG_LEVELS:
            raise ConfigError(f"{where} must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level
    if name == "commit_signal":
        signal = str(value).strip().lower()
        if signal not in COMMIT_SIGNALS:
            raise ConfigError(f"{_flag(name)} must be one of {', '.join(COMMIT_SIGNALS)}, got {value!r}")
        return signal
    if name == "log_format":
        fmt = str(value).lower()
        if fmt not in LOG_FORMATS:
            raise ConfigError(f"{where} must be one of {', '.join(LOG_FORMATS)}, got {value!r}")
        return fmt
    if name in ("api_key", "admin_key", "jwt_secret"):
        if len(str(value)) < 16:
            raise ConfigError(f"{where} must be at least 16 characters long")
        return Secret(str(value))
    if name == "allowed_origins":
        items = value if isinstance(value, list) else str(value).split(",")
        return tuple(str(o).strip().rstrip("/") for o in items if str(o).strip())
    if name in ("host", "ws_host", "agent_id", "agent_type"):
        text = str(value).strip()
        if not text:
            raise ConfigError(f"{where} must not be empty")
        return text
    raise ConfigError(f"unknown setting {name!r}")


def _number(where: str, value: Any, kind: type[int] | type[float]) -> Any:
    if isinstance(value, bool) or (kind is int and isinstance(value, float)):
        raise ConfigError(f"{where} must be a whole number, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be a number, got {value!r}") from None


def _flag(name: str) -> str:
    """How a user sets `name`: its flag and environment variable, else its TOML key."""
    ways = [f for f, field_name in _FLAGS.items() if field_name == name]
    ways += [e for e, field_name in _ENV_FIELDS.items() if field_name == name]
    return " / ".join(ways) if ways else f"{name} (config file)"


def environ_snapshot() -> dict[str, str]:
    """The process environment; the only place outside tests that reads os.environ."""
    return dict(os.environ)
