"""Tests for scsd.keys: the 0600 secrets file, reuse, environment overrides, and data-dir checks."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from scsd.config import Config, Secret
from scsd.errors import StartupError
from scsd.process.keyfile import SECRETS_FILENAME, load_or_create_keys, prepare_data_dir


def _config(data_dir: Path, **secrets: str) -> Config:
    return Config(data_dir=data_dir, **{name: Secret(value) for name, value in secrets.items()})


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_load_creates_a_0600_secrets_file(tmp_path: Path) -> None:
    keys = load_or_create_keys(_config(tmp_path))
    path = tmp_path / SECRETS_FILENAME
    assert keys.path == path
    assert _mode(path) == 0o600
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored == {
        "api_key": keys.api_key.reveal(),
        "admin_key": keys.admin_key.reveal(),
        "jwt_secret": keys.jwt_secret.reveal(),
    }
    assert len({keys.api_key.reveal(), keys.admin_key.reveal(), keys.jwt_secret.reveal()}) == 3
    assert all(len(v) >= 32 for v in stored.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == [SECRETS_FILENAME]  # no temp file left


def test_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create_keys(_config(tmp_path))
    finally:
        os.umask(old)
    assert _mode(tmp_path / SECRETS_FILENAME) == 0o600


def test_second_load_reuses_the_file(tmp_path: Path) -> None:
    first = load_or_create_keys(_config(tmp_path))
    content = (tmp_path / SECRETS_FILENAME).read_bytes()
    second = load_or_create_keys(_config(tmp_path))
    assert second == first
    assert (tmp_path / SECRETS_FILENAME).read_bytes() == content


def test_generated_keys_differ_between_data_dirs(tmp_path: Path) -> None:
    for name in ("a", "b"):
        prepare_data_dir(tmp_path / name)
    a = load_or_create_keys(_config(tmp_path / "a"))
    b = load_or_create_keys(_config(tmp_path / "b"))
    assert a.api_key != b.api_key


def test_environment_keys_override_the_file(tmp_path: Path) -> None:
    stored = load_or_create_keys(_config(tmp_path))
    api = "env-agent-key-" + "1" * 10
    keys = load_or_create_keys(_config(tmp_path, api_key=api))
    assert keys.api_key == Secret(api)
    assert keys.admin_key == stored.admin_key
    assert keys.jwt_secret == stored.jwt_secret
    everything = load_or_create_keys(
        _config(tmp_path, api_key=api, admin_key="env-admin-key-" + "2" * 10, jwt_secret="j" * 40)
    )
    assert everything.admin_key == Secret("env-admin-key-" + "2" * 10)
    assert everything.jwt_secret == Secret("j" * 40)
    # The file is not rewritten with the environment's values.
    assert json.loads((tmp_path / SECRETS_FILENAME).read_text(encoding="utf-8"))["api_key"] == (
        stored.api_key.reveal()
    )


def test_agent_and_admin_keys_must_differ(tmp_path: Path) -> None:
    same = "the-same-key-for-both"
    with pytest.raises(StartupError, match="must differ"):
        load_or_create_keys(_config(tmp_path, api_key=same, admin_key=same))


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "[]",
        '"a string"',
        '{"api_key": "a", "admin_key": "b"}',
        '{"api_key": "a", "admin_key": "b", "jwt_secret": 3}',
    ],
    ids=["invalid-json", "empty", "list", "string", "missing-field", "non-string-field"],
)
def test_corrupt_secrets_file_is_a_startup_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / SECRETS_FILENAME
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StartupError) as caught:
        load_or_create_keys(_config(tmp_path))
    assert str(path) in str(caught.value)
    assert path.read_text(encoding="utf-8") == content  # never silently replaced


def test_unreadable_secrets_file_is_a_startup_error(tmp_path: Path) -> None:
    (tmp_path / SECRETS_FILENAME).mkdir()  # a directory where the file should be: unreadable as a file
    with pytest.raises(StartupError, match="cannot read secrets file"):
        load_or_create_keys(_config(tmp_path))


def test_missing_data_dir_is_a_startup_error_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="cannot write secrets file"):
        load_or_create_keys(_config(tmp_path / "never-created"))


def test_prepare_data_dir_creates_it_with_mode_0700(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    prepare_data_dir(data_dir)
    assert data_dir.is_dir()
    assert _mode(data_dir) == 0o700
    prepare_data_dir(data_dir)  # a second time is fine


def test_prepare_data_dir_under_a_regular_file_is_a_startup_error(tmp_path: Path) -> None:
    """Root ignores permission bits, so make the path impossible instead: its parent is a file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(StartupError) as caught:
        prepare_data_dir(blocker / "data")
    message = str(caught.value)
    assert str(blocker / "data") in message
    assert "--data-dir" in message
    assert "SHARED_CONTEXT_DATA_DIR" in message


def test_prepare_data_dir_that_is_a_file_is_a_startup_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("x", encoding="utf-8")
    with pytest.raises(StartupError, match="--data-dir"):
        prepare_data_dir(not_a_dir)
