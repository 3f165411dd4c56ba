"""The Web UI under `/ui/`: sign-in (`auth`) and the pages (`pages`; memory, audit and
client set-up in `more_pages`)."""

from __future__ import annotations

from scsd.ui.auth import UiAuth, UiDeps
from scsd.ui.more_pages import blueprint as more_blueprint
from scsd.ui.pages import blueprint

__all__ = ["UiAuth", "UiDeps", "blueprint", "more_blueprint"]
