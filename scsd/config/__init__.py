"""Configuration: one frozen value (`Config`), built once by `load.load_config` from defaults,
TOML, environment and flags (`args` shapes the command line); `clients` renders the
configurations MCP clients need to reach the daemon."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 45678
DEFAULT_WS_PORT: Final = 8080
DEFAULT_POLL_SECONDS: Final = 0.1
DEFAULT_SAFETY_POLL_SECONDS: Final = 10.0
COMMIT_SIGNALS: Final = ("auto", "inotify", "poll")
DEFAULT_SHUTDOWN_GRACE_SECONDS: Final = 5.0
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS: Final = ("text", "json")
DB_FILENAME: Final = "scsd.db"


class Secret:
    """A string whose repr is masked, so keys never reach logs by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Config:
    """Everything the daemon and its subcommands need, validated.

    Secrets given here (from the environment) override the generated secrets file.
    """

    command: str = "serve"
    command_args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    ws_host: str = DEFAULT_HOST
    ws_port: int = DEFAULT_WS_PORT
    data_dir: Path = field(default_factory=lambda: Path.home() / ".local/share/scsd")
    db_path: Path | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    poll_seconds: float = DEFAULT_POLL_SECONDS
    # How other processes' commits wake the watcher: "auto" (inotify where it sees every
    # writer, else polling), "inotify" or "poll". With inotify, the poll is only a safety net
    # every `safety_poll_seconds`.
    commit_signal: str = "auto"
    safety_poll_seconds: float = DEFAULT_SAFETY_POLL_SECONDS
    shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS
    api_key: Secret | None = None
    admin_key: Secret | None = None
    jwt_secret: Secret | None = None
    allowed_origins: tuple[str, ...] = ()
    subscriber_buffer: int = 256
    sweep_interval_seconds: float = 60.0
    sse_heartbeat_seconds: float = 15.0
    max_sockets_per_identity: int = 10_000
    max_subscriptions_per_socket: int = 1_000
    token_ttl_seconds: int = 24 * 3600
    agent_id: str = "local-agent"
    agent_type: str = "claude"
    certfile: Path | None = None
    keyfile: Path | None = None
    # Where each setting given explicitly came from ("--port", "SHARED_CONTEXT_PORT",
    # "port in /etc/scsd.toml"); a setting left at its default is absent.
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def database(self) -> Path:
        """The SQLite file: `--db` if given, else `scsd.db` in the data dir."""
        return self.db_path if self.db_path is not None else self.data_dir / DB_FILENAME

    @property
    def tls(self) -> bool:
        """Whether both ports speak TLS (HTTPS and WSS): a certificate and key are configured."""
        return self.certfile is not None
