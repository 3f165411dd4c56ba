"""The Web UI under `/ui/`: sign-in (`auth`) and the pages (`pages`)."""

from __future__ import annotations

from scsd.ui.auth import UiAuth, UiDeps
from scsd.ui.pages import blueprint

__all__ = ["UiAuth", "UiDeps", "blueprint"]
