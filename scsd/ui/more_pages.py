"""The memory, audit (admins) and client set-up pages of the Web UI, as one blueprint.

Each page lives in its own module (`memory_page`, `audit_page`, `clients_page`); this one
only puts them together with what they need from the daemon.
"""

from __future__ import annotations

from quart import Blueprint

from scsd.config import Config
from scsd.store import Store
from scsd.ui import audit_page, clients_page, memory_page
from scsd.ui.auth import UiDeps
from scsd.ui.kit import PageKit


def blueprint(store: Store, deps: UiDeps, config: Config) -> Blueprint:
    """The routes `/ui/memory`, `/ui/memory/entry`, `/ui/memory/delete`, `/ui/audit` and
    `/ui/clients`; `config` gives the client page the agent token lifetime and the stdio
    command's data dir and database."""
    bp = Blueprint("ui_more", __name__)
    kit = PageKit(deps)
    memory_page.register(bp, store, kit)
    audit_page.register(bp, store, kit)
    clients_page.register(bp, store, kit, deps, config)
    return bp
