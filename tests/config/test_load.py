"""Tests for scsd.config: defaults, precedence (defaults < TOML < env < flags), validation, data dir."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scsd.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_WS_PORT,
    Config,
    Secret,
)
from scsd.config.args import build_parser
from scsd.config.load import default_data_dir, load_config
from scsd.errors import ConfigError, StartupError

KEY = "k" * 16


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A minimal environment: HOME points into tmp_path, nothing else set unless given."""
    return {"HOME": str(tmp_path / "home"), **extra}


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scsd.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _flags(parser_help: str) -> set[str]:
    return set(re.findall(r"--[a-z][a-z-]*", parser_help))


def _all_flags() -> set[str]:
    """Every flag `scsd` and its subcommands accept."""
    parser = build_parser()
    flags = _flags(parser.format_help())
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        for sub in getattr(action, "choices", {}).values():
            flags |= _flags(sub.format_help())
    return flags


def test_defaults(tmp_path: Path) -> None:
    cfg = load_config([], _env(tmp_path))
    assert cfg.command == "serve"
    assert (cfg.host, cfg.port) == ("127.0.0.1", 45678) == (DEFAULT_HOST, DEFAULT_PORT)
    assert (cfg.ws_host, cfg.ws_port) == ("127.0.0.1", 8080) == (DEFAULT_HOST, DEFAULT_WS_PORT)
    assert cfg.log_level == "INFO"
    assert cfg.poll_seconds == 0.1
    assert cfg.data_dir == tmp_path / "home" / ".local/share/scsd"
    assert cfg.database == cfg.data_dir / "scsd.db"
    assert (cfg.api_key, cfg.admin_key, cfg.jwt_secret) == (None, None, None)
    assert cfg.allowed_origins == ()


def test_precedence_defaults_toml_env_flags(tmp_path: Path) -> None:
    """Each layer overrides the one below it, field by field."""
    toml = _toml(tmp_path, 'host = "10.0.0.1"\nport = 1111\nws_port = 1112\nlog_level = "ERROR"\n')
    env = _env(tmp_path, SHARED_CONTEXT_PORT="2222", SHARED_CONTEXT_WS_PORT="2223")

    only_toml = load_config(["--config", toml], _env(tmp_path))
    assert (only_toml.host, only_toml.port, only_toml.ws_port, only_toml.log_level) == (
        "10.0.0.1",
        1111,
        1112,
        "ERROR",
    )

    toml_and_env = load_config(["--config", toml], env)
    assert (toml_and_env.host, toml_and_env.port, toml_and_env.ws_port) == ("10.0.0.1", 2222, 2223)
    assert toml_and_env.log_level == "ERROR"

    everything = load_config(["--config", toml, "--port", "3333", "--log-level", "debug"], env)
    assert (everything.host, everything.port, everything.ws_port) == ("10.0.0.1", 3333, 2223)
    assert everything.log_level == "DEBUG"


def test_env_overrides_defaults_for_every_documented_name(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        SHARED_CONTEXT_HOST="0.0.0.0",
        SHARED_CONTEXT_PORT="5000",
        SHARED_CONTEXT_WS_HOST="::1",
        SHARED_CONTEXT_WS_PORT="5001",
        SHARED_CONTEXT_DB=str(tmp_path / "elsewhere.db"),
        SHARED_CONTEXT_DATA_DIR=str(tmp_path / "data"),
        SHARED_CONTEXT_API_KEY="a" * 20,
        SHARED_CONTEXT_ADMIN_KEY="b" * 20,
        SHARED_CONTEXT_JWT_SECRET="c" * 20,
        SHARED_CONTEXT_POLL_INTERVAL="0.5",
        SHARED_CONTEXT_ALLOWED_ORIGINS="https://a.example/, https://b.example",
        LOG_LEVEL="warning",
    )
    cfg = load_config([], env)
    assert (cfg.host, cfg.port, cfg.ws_host, cfg.ws_port) == ("0.0.0.0", 5000, "::1", 5001)
    assert cfg.database == tmp_path / "elsewhere.db"
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.api_key == Secret("a" * 20)
    assert cfg.admin_key == Secret("b" * 20)
    assert cfg.jwt_secret == Secret("c" * 20)
    assert cfg.poll_seconds == 0.5
    assert cfg.allowed_origins == ("https://a.example", "https://b.example")
    assert cfg.log_level == "WARNING"


def test_every_flag_takes_effect(tmp_path: Path) -> None:
    """No flag is accepted and then ignored."""
    cfg = load_config(
        [
            "--host", "10.1.1.1",
            "--port", "4000",
            "--ws-host", "10.2.2.2",
            "--ws-port", "4001",
            "--db", str(tmp_path / "x.db"),
            "--data-dir", str(tmp_path / "d"),
            "--log-level", "error",
        ],
        _env(tmp_path),
    )  # fmt: skip
    assert (cfg.host, cfg.port, cfg.ws_host, cfg.ws_port) == ("10.1.1.1", 4000, "10.2.2.2", 4001)
    assert cfg.database == tmp_path / "x.db"
    assert cfg.data_dir == tmp_path / "d"
    assert cfg.log_level == "ERROR"


def test_flags_before_and_after_the_subcommand(tmp_path: Path) -> None:
    assert load_config(["--port", "4100", "serve"], _env(tmp_path)).port == 4100
    after = load_config(["serve", "--port", "4200"], _env(tmp_path))
    assert (after.command, after.port) == ("serve", 4200)
    stdio = load_config(["stdio", "--agent-id", "me", "--agent-type", "gemini"], _env(tmp_path))
    assert (stdio.command, stdio.agent_id, stdio.agent_type) == ("stdio", "me", "gemini")


def test_toml_aliases_and_dashes(tmp_path: Path) -> None:
    toml = _toml(
        tmp_path,
        f'db = "{tmp_path / "t.db"}"\npoll_interval = 0.25\nws-port = 9999\n'
        'allowed_origins = ["https://ui.example/"]\n',
    )
    cfg = load_config(["--config", toml], _env(tmp_path))
    assert cfg.database == tmp_path / "t.db"
    assert cfg.poll_seconds == 0.25
    assert cfg.ws_port == 9999
    assert cfg.allowed_origins == ("https://ui.example",)


def test_port_zero_is_allowed_for_both(tmp_path: Path) -> None:
    cfg = load_config(["--port", "0", "--ws-port", "0"], _env(tmp_path))
    assert (cfg.port, cfg.ws_port) == (0, 0)


def test_same_port_for_http_and_websocket_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="different ports"):
        load_config(["--port", "5000", "--ws-port", "5000"], _env(tmp_path))


@pytest.mark.parametrize("value", ["abc", "65536", "-1", "80.5", ""])
def test_bad_port_flag_names_the_flag(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(["--port", value], _env(tmp_path))
    assert "--port" in str(caught.value)
    assert isinstance(caught.value, StartupError)  # the CLI turns it into one line, status 2


def test_bad_port_from_env_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SHARED_CONTEXT_WS_PORT"):
        load_config([], _env(tmp_path, SHARED_CONTEXT_WS_PORT="http"))


@pytest.mark.parametrize("value", ["true", "8080.5", '"many"'])
def test_bad_port_in_toml_is_refused(tmp_path: Path, value: str) -> None:
    """A TOML port must be a whole number; a float is not silently truncated."""
    toml = _toml(tmp_path, f"port = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(["--config", toml], _env(tmp_path))
    assert str(caught.value).startswith(f"port in {toml} must be a ")


@pytest.mark.parametrize(
    ("toml_line", "env", "argv", "named"),
    [
        ("ws_port = 99999", {}, [], "ws_port in {toml}"),
        ("poll_interval = 0", {}, [], "poll_interval in {toml}"),  # a TOML alias is named as written
        ("subscriber-buffer = -3", {}, [], "subscriber-buffer in {toml}"),
        ("log_level = 'LOUD'", {}, [], "log_level in {toml}"),
        ("", {"SHARED_CONTEXT_WS_PORT": "99999"}, [], "SHARED_CONTEXT_WS_PORT"),
        ("", {"LOG_LEVEL": "LOUD"}, [], "LOG_LEVEL"),
        ("ws_port = 1", {"SHARED_CONTEXT_WS_PORT": "2"}, ["--ws-port", "99999"], "--ws-port"),
        ("ws_port = 99999", {}, ["--ws-port", "2"], None),  # overridden: never read
    ],
)
def test_errors_name_the_source_that_set_the_value(
    tmp_path: Path, toml_line: str, env: dict[str, str], argv: list[str], named: str | None
) -> None:
    toml = _toml(tmp_path, toml_line + "\n")
    args = ["--config", toml, *argv]
    if named is None:
        assert load_config(args, _env(tmp_path, **env)).ws_port == 2
        return
    with pytest.raises(ConfigError) as caught:
        load_config(args, _env(tmp_path, **env))
    message = str(caught.value)
    assert message.startswith(named.format(toml=toml) + " must "), message
    others = {"--ws-port", "SHARED_CONTEXT_WS_PORT", "--log-level", "LOG_LEVEL"} - {named}
    assert not any(other in message for other in others), message


def test_sources_record_where_each_setting_came_from(tmp_path: Path) -> None:
    toml = _toml(tmp_path, "port = 5000\nshutdown_grace = 2\n")
    cfg = load_config(["--config", toml, "--ws-port", "0"], _env(tmp_path, SHARED_CONTEXT_PORT="6000"))
    assert cfg.port == 6000 and cfg.sources["port"] == "SHARED_CONTEXT_PORT"
    assert cfg.sources["shutdown_grace_seconds"] == f"shutdown_grace in {toml}"
    assert cfg.sources["ws_port"] == "--ws-port"
    assert "host" not in cfg.sources  # the default


def test_a_port_conflict_names_both_sources(tmp_path: Path) -> None:
    toml = _toml(tmp_path, "ws_port = 5000\n")
    with pytest.raises(ConfigError) as caught:
        load_config(["--config", toml, "--port", "5000"], _env(tmp_path))
    assert f"--port, ws_port in {toml}" in str(caught.value)


def test_bad_log_level_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(["--log-level", "chatty"], _env(tmp_path))
    message = str(caught.value)
    assert "chatty" in message
    assert "--log-level" in message
    assert "DEBUG" in message


@pytest.mark.parametrize(
    "argv",
    [
        ["--frobnicate"],
        ["--frobnicate=1"],
        ["serve", "--frobnicate", "1"],
        ["--frobnicate", "1"],  # the value must not be mistaken for an unknown subcommand
        ["--frobnicate", "1", "serve"],
    ],
)
def test_unknown_flag_is_named(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(ConfigError, match="--frobnicate"):
        load_config(argv, _env(tmp_path))


def test_unknown_toml_key_is_named(tmp_path: Path) -> None:
    toml = _toml(tmp_path, "prot = 1234\n")
    with pytest.raises(ConfigError, match="'prot'"):
        load_config(["--config", toml], _env(tmp_path))


def test_toml_cannot_set_the_command(tmp_path: Path) -> None:
    toml = _toml(tmp_path, 'command = "stdio"\n')
    with pytest.raises(ConfigError, match="command"):
        load_config(["--config", toml], _env(tmp_path))


def test_missing_or_invalid_toml_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(["--config", str(tmp_path / "absent.toml")], _env(tmp_path))
    broken = _toml(tmp_path, "port = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(["--config", broken], _env(tmp_path))


@pytest.mark.parametrize("value", ["0", "61", "fast", "0.0001"])
def test_poll_interval_bounds(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="SHARED_CONTEXT_POLL_INTERVAL"):
        load_config([], _env(tmp_path, SHARED_CONTEXT_POLL_INTERVAL=value))


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        ([], {"SHARED_CONTEXT_POLL_INTERVAL": "0"}),
        ([], {"SHARED_CONTEXT_API_KEY": "short"}),
        ([], {"SHARED_CONTEXT_ADMIN_KEY": "short"}),
        ([], {"SHARED_CONTEXT_JWT_SECRET": "short"}),
        ([], {"SHARED_CONTEXT_PORT": "x"}),
        ([], {"SHARED_CONTEXT_HOST": "  "}),
        (["--data-dir", " "], {}),
        (["--db", ""], {}),
    ],
)
def test_error_messages_only_name_flags_that_exist(
    tmp_path: Path, argv: list[str], env: dict[str, str]
) -> None:
    """A message that says 'use --poll' when there is no --poll flag misleads the operator."""
    with pytest.raises(ConfigError) as caught:
        load_config(argv, _env(tmp_path, **env))
    named = set(re.findall(r"--[a-z][a-z-]*", str(caught.value)))
    assert named <= _all_flags(), f"{caught.value} names unknown flags {named - _all_flags()}"


def test_empty_environment_values_are_ignored(tmp_path: Path) -> None:
    cfg = load_config([], _env(tmp_path, SHARED_CONTEXT_PORT="", LOG_LEVEL=""))
    assert (cfg.port, cfg.log_level) == (DEFAULT_PORT, "INFO")


def test_data_dir_precedence(tmp_path: Path) -> None:
    """SHARED_CONTEXT_DATA_DIR > STATE_DIRECTORY > XDG_DATA_HOME/scsd > HOME/.local/share/scsd."""
    home = str(tmp_path / "home")
    full = {
        "HOME": home,
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "STATE_DIRECTORY": str(tmp_path / "state"),
        "SHARED_CONTEXT_DATA_DIR": str(tmp_path / "explicit"),
    }
    assert load_config([], full).data_dir == tmp_path / "explicit"
    del full["SHARED_CONTEXT_DATA_DIR"]
    assert load_config([], full).data_dir == tmp_path / "state"
    del full["STATE_DIRECTORY"]
    assert load_config([], full).data_dir == tmp_path / "xdg" / "scsd"
    del full["XDG_DATA_HOME"]
    assert load_config([], full).data_dir == tmp_path / "home" / ".local" / "share" / "scsd"


def test_data_dir_flag_beats_environment(tmp_path: Path) -> None:
    env = _env(tmp_path, SHARED_CONTEXT_DATA_DIR=str(tmp_path / "env"))
    assert load_config(["--data-dir", str(tmp_path / "flag")], env).data_dir == tmp_path / "flag"


def test_state_directory_may_list_several_dirs(tmp_path: Path) -> None:
    env = {"STATE_DIRECTORY": f"{tmp_path}/first:{tmp_path}/second"}
    assert default_data_dir(env) == tmp_path / "first"


def test_database_follows_the_data_dir_unless_given(tmp_path: Path) -> None:
    cfg = load_config(["--data-dir", str(tmp_path / "d")], _env(tmp_path))
    assert cfg.database == tmp_path / "d" / "scsd.db"
    cfg = load_config(["--data-dir", str(tmp_path / "d"), "--db", str(tmp_path / "o.db")], _env(tmp_path))
    assert cfg.database == tmp_path / "o.db"


def test_secret_repr_is_masked(tmp_path: Path) -> None:
    secret_value = "super-secret-value-123"
    secret = Secret(secret_value)
    assert secret.reveal() == secret_value
    assert secret_value not in repr(secret)
    assert secret_value not in str(secret)
    assert secret_value not in f"{secret}"
    cfg = load_config([], _env(tmp_path, SHARED_CONTEXT_API_KEY=secret_value))
    assert secret_value not in repr(cfg)
    assert cfg.api_key is not None and cfg.api_key.reveal() == secret_value


def test_secret_equality() -> None:
    assert Secret(KEY) == Secret(KEY)
    assert Secret(KEY) != Secret(KEY + "x")
    assert Secret(KEY) != KEY
    assert hash(Secret(KEY)) == hash(Secret(KEY))


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(AttributeError):
        cfg.port = 1  # type: ignore[misc]
