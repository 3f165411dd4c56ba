"""Shared fixtures: a config on port 0 in a tmp dir, and a real daemon started in-process.

Tests that need a whole daemon, a subprocess or a browser are marked `slow`: those using the
`running` fixture, the browser tests (`*_browser.py`), the CLI's (`tests/cli/`, real `python -m
scsd` processes), and modules that say `pytestmark = pytest.mark.slow`. `uv run pytest -m "not
slow"` is the fast loop of unit tests.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from scsd import daemon
from scsd.config import Config
from scsd.process.sdnotify import Notifier
from tests.kit.daemon import Running, make_config


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path
        if (
            "running" in getattr(item, "fixturenames", ())
            or path.name.endswith("_browser.py")
            or path.parent.name == "cli"
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
async def running(nursery: trio.Nursery, config: Config) -> AsyncIterator[Running]:
    stop = trio.Event()
    with trio.fail_after(30):
        endpoints = await nursery.start(daemon.run, config, stop.wait, Notifier({}))
    secrets = json.loads((config.data_dir / "secrets.json").read_text())
    try:
        yield Running(config, endpoints, secrets, stop)
    finally:
        stop.set()
