"""The HTTP app (Quart on trio): `/health` and the Web UI under `/ui/`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from quart import Blueprint, Response, redirect
from quart_trio import QuartTrio

from scsd import ui
from scsd.health import HealthSources, report
from scsd.store import Store

logger = logging.getLogger(__name__)

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def web_dir() -> Path:
    """Templates and static files: `scsd/web` in a wheel, `web/` beside the package in a
    source checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "web"
    return installed if installed.is_dir() else here.parent / "web"


def create_app(
    store: Store, health: HealthSources, *blueprints: Blueprint, ui_deps: ui.UiDeps | None = None
) -> QuartTrio:
    """The Quart app; its routes are closures over the store and the health sources;
    `blueprints` (the SSE stream, `/metrics`) are registered as given; the Web UI (`scsd.ui`)
    when `ui_deps` is given."""
    web = web_dir()
    app = QuartTrio(
        __name__,
        template_folder=str(web / "templates"),
        static_folder=str(web / "static"),
        static_url_path="/ui/static",
    )

    @app.after_request
    async def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.get("/health")
    async def get_health() -> tuple[dict[str, object], int]:
        body, healthy = await report(health)
        return body, 200 if healthy else 503

    @app.get("/")
    @app.get("/ui")
    async def to_ui() -> Response:
        return redirect("/ui/")  # type: ignore[return-value]

    if ui_deps is not None:
        app.register_blueprint(ui.blueprint(store, health, ui_deps))
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app
