"""`scsd keys show|rotate [--which api|admin|jwt|all]`: the secrets file, read or renewed."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Final

from scsd.config import Config, Secret
from scsd.errors import StartupError
from scsd.process.keyfile import Keys, load_or_create_keys, prepare_data_dir, rotate_secrets

EXIT_USAGE: Final = 2
FIELDS: Final = ("api_key", "admin_key", "jwt_secret")
WHICH: Final[Mapping[str, tuple[str, ...]]] = {
    "api": ("api_key",),
    "admin": ("admin_key",),
    "jwt": ("jwt_secret",),
    "all": FIELDS,
}
ENV_NAMES: Final[Mapping[str, str]] = {
    "api_key": "SHARED_CONTEXT_API_KEY",
    "admin_key": "SHARED_CONTEXT_ADMIN_KEY",
    "jwt_secret": "SHARED_CONTEXT_JWT_SECRET",
}
EFFECTS: Final[Mapping[str, str]] = {
    "api_key": "the old agent API key no longer authenticates agents; "
    "tokens already issued stay valid until they expire",
    "admin_key": "the old admin key no longer signs in to the UI or mints admin tokens",
    "jwt_secret": "every token issued so far stops working; agents call authenticate_agent again",
}
RESTART: Final = (
    "restart the daemon and any `scsd stdio` to use the new values: `systemctl restart scsd`, "
    "or stop it and run `uv run scsd` again"
)
REGENERATE: Final = "configs printed by `scsd client-config` hold the old key or token: print them again"


def run(config: Config) -> int:
    """Show or rotate the secrets, per `config.command_args` (`action`, `which`).

    Returns:
        0, or 2 with one line on stderr when the data dir or secrets file is unusable.
    """
    try:
        prepare_data_dir(config.data_dir)
        keys = load_or_create_keys(config)
        if config.command_args["action"] == "rotate":
            names = WHICH[str(config.command_args.get("which") or "all")]
            _rotate(config, keys, names)
        else:
            _show(config, keys)
    except StartupError as e:
        print(f"scsd: {e}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _given(config: Config, name: str) -> Secret | None:
    """The value the configuration (environment or --config file) sets, which beats the file's."""
    value: Secret | None = getattr(config, name)
    return value


def _show(config: Config, keys: Keys) -> None:
    print(f"secrets file: {keys.path}")
    for name in FIELDS:
        value: Secret = getattr(keys, name)
        note = ""
        if _given(config, name) is not None:
            note = f"  (overridden by {ENV_NAMES[name]} or the --config file; the file's value is unused)"
        print(f"{name + ':':<12}{value.reveal()}{note}")


def _rotate(config: Config, keys: Keys, names: tuple[str, ...]) -> None:
    rotated = rotate_secrets(keys.path, names)
    print(f"rotated in {keys.path}:")
    for name in names:
        print(f"{name + ':':<12}{rotated[name]}")
        print(f"  effect: {EFFECTS[name]}")
    print(RESTART)
    if {"api_key", "jwt_secret"} & set(names):
        print(REGENERATE)
    for name in names:
        if _given(config, name) is not None:
            print(
                f"scsd: warning: {ENV_NAMES[name]} (or {name} in the --config file) is set and still "
                f"wins over the file's new {name}; change or unset it too",
                file=sys.stderr,
            )
