"""What the memory, audit and client pages share: the signed-in check, rendering, redirects."""

from __future__ import annotations

from typing import Final

from quart import Response, render_template

from scsd import __version__
from scsd.ui.auth import SignedIn, UiAuth, UiDeps

LOGIN: Final = "/ui/login"


class PageKit:
    """Renders the pages of `scsd.ui.more_pages` for a signed-in identity.

    Every page it renders is `Cache-Control: no-store`: they show memory values, audit rows
    or a freshly minted token, none of which belongs in a shared or back-button cache.
    """

    def __init__(self, deps: UiDeps) -> None:
        self.auth = UiAuth(deps)

    def current(self) -> SignedIn | None:
        """Who is signed in (a genuine, fresh cookie), or None."""
        return self.auth.current()

    async def page(self, template: str, me: SignedIn, status: int = 200, **context: object) -> Response:
        """`template` rendered for `me` (with the CSRF token for its forms), not cacheable."""
        html = await render_template(template, me=me.identity, csrf=me.csrf, version=__version__, **context)
        return Response(html, status, mimetype="text/html", headers={"Cache-Control": "no-store"})

    async def refuse(self, me: SignedIn, status: int, title: str, message: str) -> Response:
        """A page that says what was refused and why, with `status` (403, 404, 400)."""
        return await self.page("refused.html", me, status, title=title, message=message)


def see_other(location: str) -> Response:
    return Response("", 303, headers={"Location": location})


def to_login() -> Response:
    return see_other(LOGIN)
