"""The client set-up page: what `scsd client-config CLIENT` prints, for every client, filled
with this daemon's URL and, after a "Mint token" POST, a token for the signed-in identity.

The token is only ever in the body of that POST's response (`Cache-Control: no-store`), never
in a URL. An admin gets an admin token but never the admin key back; an agent, who signed in
with the agent API key, gets that key in `X-API-Key` as the CLI prints it, to re-authenticate.
"""

from __future__ import annotations

from typing import Final

from quart import Blueprint, Response, request

from scsd.config import Config
from scsd.config import clients as cc
from scsd.model import Identity, iso_from_micros
from scsd.store import Store
from scsd.ui.auth import CSRF_FIELD, UiDeps, csrf_ok
from scsd.ui.kit import PageKit, to_login

CLIENTS: Final = ("claude-code", "cursor", "vscode", "gemini", "claude-desktop", "codex", "generic")
PLACEHOLDER: Final = "YOUR_TOKEN"


def register(bp: Blueprint, store: Store, kit: PageKit, deps: UiDeps, config: Config) -> None:
    """Add `/ui/clients` (GET: placeholders; POST: mint a token and fill it in) to `bp`."""
    keys = deps.keys
    # The agent token's lifetime is the daemon's (token_ttl_seconds), not the UI's 10 minutes.
    authority = deps.gatekeeper.authority

    def clients(me: Identity, url: str, headers: dict[str, str]) -> list[dict[str, object]]:
        target = cc.target(config, url, me.agent_id, me.agent_type, headers)
        shown: list[dict[str, object]] = []
        for name in CLIENTS:
            if name == "claude-code":
                blocks = [
                    ("command", cc.claude_code_command(target)),
                    (".mcp.json", cc.claude_code_json(target)),
                ]
            else:
                blocks = [("", cc.render(name, target))]
            shown.append({"name": name, "title": cc.TITLES[name], "where": cc.WHERE[name],
                          "stdio": name in cc.STDIO_CLIENTS, "blocks": blocks})  # fmt: skip
        return shown

    def mcp_url() -> str:
        # The address the browser reached this page at is one that works from the browser's
        # machine; the MCP endpoint is on the same host and port.
        return request.host_url.rstrip("/") + "/mcp"

    @bp.get("/ui/clients")
    async def clients_page() -> Response:
        if (me := kit.current()) is None:
            return to_login()
        url = mcp_url()
        placeholder = cc.auth_headers(PLACEHOLDER, None)
        return await kit.page("clients.html", me, url=url, token=None,
                              clients=clients(me.identity, url, placeholder))  # fmt: skip

    @bp.post("/ui/clients")
    async def mint() -> Response:
        if (me := kit.current()) is None:
            return to_login()
        if not csrf_ok(me, (await request.form).get(CSRF_FIELD)):
            return await kit.refuse(me, 403, "Form expired", "CSRF token missing or wrong; reload the page.")
        who = me.identity
        issued = authority.issue(who, ttl_seconds=config.token_ttl_seconds)
        api_key = None if who.is_admin else keys.api_key.reveal()
        await store.audit("jwt_token_generated", who.agent_id,
                          metadata={"agent_type": who.agent_type, "permissions": sorted(who.permissions),
                                    "via": "ui"})  # fmt: skip
        url = mcp_url()
        return await kit.page(
            "clients.html", me, url=url, token=issued.token,
            expires_at=iso_from_micros(issued.expires_at * 1_000_000),
            permissions="+".join(sorted(who.permissions)), with_key=api_key is not None,
            clients=clients(who, url, cc.auth_headers(issued.token, api_key)),
        )  # fmt: skip
