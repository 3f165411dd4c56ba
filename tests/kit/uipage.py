"""Helpers for the UI's browser tests of pages as a person sees them (themes, times, Markdown,
phones, recovery, accessibility): axe-core, viewports, seeded sessions, colours. Builds on
`tests.kit.browser`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Final

from playwright.sync_api import Page, expect

from tests.kit.browser import LIVE, sign_in
from tests.kit.daemon import Running

AXE: Final = Path(__file__).resolve().parents[1] / "assets" / "axe-core" / "axe.min.js"
DESKTOP: Final = {"width": 1440, "height": 900}
PHONE: Final = {"width": 390, "height": 844}
SIZES: Final = {"desktop": DESKTOP, "phone": PHONE}
THEMES: Final = ("light", "dark")
BLOCKING: Final = ("critical", "serious")

_AXE_RUN: Final = """async () => {
  // target-size (WCAG 2.2 2.5.8, 24 x 24 px) is off in axe's defaults: on here.
  const rules = { "target-size": { enabled: true } };
  const r = await axe.run(document, { resultTypes: ["violations"], rules: rules });
  return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map(n => n.target.join(" ") + " :: " + (n.failureSummary || "").slice(0, 160)),
  }));
}"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's critical and serious violations on the page as it is now. The page's context
    must bypass CSP (`bypass_csp=True`): axe is injected as an inline script."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(_AXE_RUN)
    return [v for v in found if v["impact"] in BLOCKING]


def assert_axe_clean(page: Page, where: str) -> None:
    bad = axe_violations(page)
    assert bad == [], f"axe on {where} ({page.url}):\n" + "\n".join(
        f"  {v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in bad
    )


def set_message_time(running: Running, message_id: int, micros: int) -> None:
    """Back-date a message in the daemon's SQLite file (the daemon stamps messages with now)."""
    with sqlite3.connect(running.config.database) as db:
        db.execute("UPDATE messages SET timestamp = ? WHERE id = ?", (micros, message_id))


def computed(page: Page, selector: str, prop: str) -> str:
    value: str = page.eval_on_selector(selector, "(e, p) => getComputedStyle(e).getPropertyValue(p)", prop)
    return value


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return found


def luminance(css: str) -> float:
    """Relative luminance of an `rgb(r, g, b)` colour (WCAG 2)."""
    parts = [float(p) for p in css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()[:3]]

    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in parts)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


async def seeded_session(
    running: Running, purpose: str, *contents: str, sender: str = "alice"
) -> tuple[str, str]:
    """A session created over MCP by `sender`, with `contents` posted in order: (token, id)."""
    token = await running.token(sender)
    sid = str((await running.mcp().call("create_session", purpose=purpose, auth_token=token))["session_id"])
    for content in contents:
        await running.mcp().call("add_message", session_id=sid, content=content, auth_token=token)
    return token, sid


def watch(
    page: Page, running: Running, sid: str, agent_id: str = "viewer", agent_type: str = "claude"
) -> None:
    """Sign in with the agent key as `agent_id` and open the session page until it is live."""
    sign_in(page, running.secrets["api_key"], agent_id, agent_type)
    page.goto(f"/ui/sessions/{sid}")
    expect(page.locator("#live-status")).to_have_text(LIVE)
