"""The HTTP app (Quart on trio): `/health`, security headers, and the blueprints it is given
(the Web UI under `/ui/`, SSE, `/metrics`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from quart import Blueprint, Response, redirect
from quart_trio import QuartTrio

from scsd.httpd.health import HealthSources, report

logger = logging.getLogger(__name__)

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def web_dir() -> Path:
    """Templates and static files: `scsd/web` in a wheel, `web/` beside the package in a
    source checkout."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "web"
    return installed if installed.is_dir() else package.parent / "web"


def create_app(health: HealthSources, *blueprints: Blueprint) -> QuartTrio:
    """The Quart app: `/health`, the redirect to `/ui/`, security headers on every response,
    the Web UI's static files, and `blueprints` (the Web UI, the SSE streams, `/metrics`) as
    given."""
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

    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app
