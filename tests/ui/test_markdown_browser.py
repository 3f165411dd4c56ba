"""Message Markdown in a real Chromium (issue 16, item 3): CommonMark plus GFM tables, task
lists, strikethrough and autolinks by the vendored markdown-it, highlighted code with a Copy
button, headings under the page's own, long messages collapsed, metadata viewable; raw HTML
and javascript: links stay text, under CSP script-src 'self'. Helpers: browserkit, uikit."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.kit.browser import LIVE, browser_page, in_browser, mcp, require_chromium, sign_in
from tests.kit.daemon import Running
from tests.kit.uipage import seeded_session, watch

REL = 'rel="noopener noreferrer nofollow"'
CASES = [
    ("plain\nnext line", "<p>plain<br>next line</p>"),
    ("one\n\ntwo", "<p>one</p><p>two</p>"),
    # Headings: the message's largest level is an <h3> (the page's own is <h2>), no level skipped.
    ("# Title #\n\n## Sub\n\n#### Deep",
     '<h3 class="md-h1">Title</h3><h4 class="md-h2">Sub</h4><h5 class="md-h4">Deep</h5>'),
    ("### Only three", '<h3 class="md-h3">Only three</h3>'),
    ("**b** *i* __b__ _i_ ~~s~~",
     "<p><strong>b</strong> <em>i</em> <strong>b</strong> <em>i</em> <del>s</del></p>"),
    ("snake_case_name and 2*3*4", "<p>snake_case_name and 2<em>3</em>4</p>"),
    ("| a | b |\n|:--|--:|\n| 1 | `x\\|y` |",
     '<div class="table-wrap"><table><thead><tr><th class="align-left" scope="col">a</th>'
     '<th class="align-right" scope="col">b</th></tr></thead><tbody><tr><td class="align-left">1</td>'
     '<td class="align-right"><code>x|y</code></td></tr></tbody></table></div>'),
    ("- [ ] todo\n- [x] done\n- plain",
     '<ul><li class="task"><input type="checkbox" disabled="" aria-label="not done"> todo</li>'
     '<li class="task"><input type="checkbox" disabled="" aria-label="done"> done</li><li>plain</li></ul>'),
    ("see https://x.org/a_b. and www.example.com or ops@example.com",
     f'<p>see <a href="https://x.org/a_b" {REL}>https://x.org/a_b</a>. and '
     f'<a href="http://www.example.com/" {REL}>www.example.com</a> or '
     f'<a href="mailto:ops@example.com" {REL}>ops@example.com</a></p>'),
    ("<mailto:a@b.c> <javascript:alert(1)>",
     f'<p><a href="mailto:a@b.c" {REL}>mailto:a@b.c</a> &lt;javascript:alert(1)&gt;</p>'),
    ("[x](javascript:alert(1)) [y]( java\tscript:alert(2) ) [z](/relative)",
     "<p>[x](javascript:alert(1)) [y]( java\tscript:alert(2) ) [z](/relative)</p>"),
    ("[x](vbscript:a) [y](data:text/html;base64,PHNjcmlwdD4=) ![pic](https://x.org/p.png)",
     "<p>[x](vbscript:a) [y](data:text/html;base64,PHNjcmlwdD4=) "
     f'<a class="image-link" href="https://x.org/p.png" {REL}>image: pic</a></p>'),
    ('<img src=x onerror="alert(1)"><script>alert(2)</script>',
     '<p>&lt;img src=x onerror="alert(1)"&gt;&lt;script&gt;alert(2)&lt;/script&gt;</p>'),
    ("| h |\n|---|\n| <b>x</b> |",
     '<div class="table-wrap"><table><thead><tr><th scope="col">h</th></tr></thead>'
     "<tbody><tr><td>&lt;b&gt;x&lt;/b&gt;</td></tr></tbody></table></div>"),
    ("```py\nx = '<i>'\n```",
     '<div class="code-block"><div class="code-bar"><span class="code-lang">py</span>'
     '<button class="copy copy-code" type="button" aria-label="Copy code (py)">Copy</button></div>'
     '<pre><code class="language-py hljs">x = <span class="hljs-string">\'&lt;i&gt;\'</span>'
     "</code></pre></div>"),
    ("```\nplain <b>\n```",
     '<div class="code-block"><div class="code-bar"><span class="code-lang">text</span>'
     '<button class="copy copy-code" type="button" aria-label="Copy code">Copy</button></div>'
     "<pre><code>plain &lt;b&gt;</code></pre></div>"),
    ("3. three\n4. four", '<ol start="3"><li>three</li><li>four</li></ol>'),
    ("> a\n> > b\n\nc", "<blockquote><p>a</p><blockquote><p>b</p></blockquote></blockquote><p>c</p>"),
    ("text\n\n---", "<p>text</p><hr>"),
    ('[a *b*](https://x.org/p_(q) "T") end',
     f'<p><a href="https://x.org/p_(q)" {REL} title="T">a <em>b</em></a> end</p>'),
]  # fmt: skip
# The largest content allowed (100,000 characters), built to hit each scan's worst case, and
# how much of it must still be there as text (nesting past markdown-it's limit: all of it).
HOSTILE = [("[" * 50_000 + "](" * 25_000, 100_000), ("*a" * 50_000, 50_000), ("x" + "`" * 99_998, 99_999),
           ("> " * 40_000 + "x", 80_001), ("- " * 40_000 + "x", 80_001), ("1. " * 30_000 + "x", 90_001),
           ("_a" * 50_000, 50_000), ("[a](" * 25_000, 100_000), ("<https://" * 11_000, 99_000),
           ("|a" * 25_000 + "\n" + "|-" * 24_999, 25_000), ("```\n" + "<span>" * 16_000, 96_000)]  # fmt: skip
RENDER = """async (sources) => {
  const { render } = await import("/ui/static/js/markdown.js");
  return sources.map(src => { const d = document.createElement("div"); d.append(render(src)); return d; });
}"""
GFM = (
    "## Plan\n\n| step | owner |\n|---|---|\n| build | bob |\n\n- [x] changelog\n- [ ] tag\n\n"
    "~~old~~ new, see https://ci.example.com/runs/812\n\n```python\ndef tag(v):\n    return v\n```\n\n"
    "<img src=x onerror=alert(1)> [bad](javascript:alert(2))"
)


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


async def test_renderer_cases_and_hostile_input(running: Running) -> None:
    """markdown.js itself, in the browser: the exact DOM for each case; hostile input of the
    largest allowed size renders rather than hanging or overflowing the stack."""

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            sources = [source for source, _ in CASES]
            got = page.evaluate(RENDER.replace("return d;", "return d.innerHTML;"), sources)
            assert list(zip(sources, got, strict=True)) == CASES
            for text, kept in HOSTILE:
                assert len(text) <= 100_000
                rendered = page.evaluate(RENDER.replace("return d;", "return d.textContent.length;"), [text])
                assert rendered[0] >= kept, (text[:20], rendered[0])

    await in_browser(run)


async def test_gfm_renders_the_same_initially_and_live_and_stays_safe(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="gfm", auth_token=alice))["session_id"]
    await running.mcp().call("add_message", session_id=sid, content=GFM, auth_token=alice)

    def run() -> None:
        with browser_page(running) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            response = page.goto(f"/ui/sessions/{sid}")
            assert response is not None
            assert "script-src 'self';" in response.headers["content-security-policy"]
            expect(page.locator("#live-status")).to_have_text(LIVE)
            mcp(running, "add_message", session_id=sid, content=GFM, auth_token=alice)
            expect(page.locator("#messages > li")).to_have_count(2)
            first, live = page.locator("#messages .content").all()
            for content in (first, live):
                expect(content.locator("h3")).to_have_text("Plan")
                expect(content.locator("table th")).to_have_text(["step", "owner"])
                expect(content.locator("table td")).to_have_text(["build", "bob"])
                expect(content.locator("li.task input[type=checkbox]")).to_have_count(2)
                expect(content.locator("li.task input").first).to_be_checked()
                expect(content.locator("del")).to_have_text("old")
                expect(content.locator("a[href='https://ci.example.com/runs/812']")).to_have_count(1)
                expect(content.locator("pre code.language-python .hljs-keyword")).to_have_text(
                    ["def", "return"]
                )
                expect(content.locator("pre code")).to_have_text("def tag(v):\n    return v")
                expect(content).to_contain_text("<img src=x onerror=alert(1)> [bad](javascript:alert(2))")
            assert first.inner_html() == live.inner_html()  # server-rendered = live-rendered
            # The whole message markup is one template's: the bubbles match but for id and time.
            bubbles = page.eval_on_selector_all(
                "#messages .bubble",
                "els => els.map(e => e.outerHTML.replace(/(m|c)-\\d+|#\\d+|\\d\\d:\\d\\d(:\\d\\d)?|"
                'datetime="[^"]*"|title="[^"]*"|20\\d\\d-[^,<]*/g, \'\'))',
            )
            assert bubbles[0] == bubbles[1]
            assert (
                page.locator("#messages img, #messages script, #messages a[href^='javascript']").count() == 0
            )

    await in_browser(run)


async def test_copy_button_copies_a_code_block(running: Running) -> None:
    code = 'for i in range(3):\n    print("<b>", i)'
    _, sid = await seeded_session(running, "copy code", f"Run:\n\n```python\n{code}\n```")

    def run() -> None:
        with browser_page(running, permissions=["clipboard-read", "clipboard-write"]) as (page, _):
            watch(page, running, sid)
            button = page.locator("#messages .code-block button.copy-code")
            expect(button).to_have_accessible_name("Copy code (python)")
            button.focus()
            page.keyboard.press("Enter")  # by keyboard, as any action
            expect(button).to_have_text("Copied")
            assert page.evaluate("navigator.clipboard.readText()") == code
            expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
            expect(button).to_have_text("Copy")  # back after a moment

    await in_browser(run)


async def test_long_message_is_collapsed_behind_show_more(running: Running) -> None:
    alice = await running.token("alice")
    sid = (await running.mcp().call("create_session", purpose="long", auth_token=alice))["session_id"]
    lines = [f"line {n:05} " + "x" * 40 for n in range(2_000)]
    huge = "\n".join(lines)[:100_000]  # the largest message allowed
    await running.mcp().call("add_message", session_id=sid, content=huge, auth_token=alice)
    await running.mcp().call("add_message", session_id=sid, content="short one", auth_token=alice)

    def run() -> None:
        with browser_page(running, viewport={"width": 1100, "height": 800}) as (page, _):
            sign_in(page, running.secrets["api_key"], "viewer")
            page.goto(f"/ui/sessions/{sid}")
            expect(page.locator("#live-status")).to_have_text(LIVE)
            mcp(running, "add_message", session_id=sid, content="\n\n".join(lines[:60]), auth_token=alice)
            expect(page.locator("#messages > li")).to_have_count(3)
            long_one, short, live_long = page.locator("#messages > li").all()
            for li in (long_one, live_long):
                content = li.locator(".content")
                expect(content).to_have_class("content md collapsed")
                height = content.evaluate("e => e.getBoundingClientRect().height")
                line = content.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
                assert height <= line * 31, (height, line)  # about 30 lines, not 17,000 px
                expect(li.locator("button.more")).to_have_text("Show more")
                expect(li.locator("button.more")).to_have_attribute("aria-expanded", "false")
            expect(short.locator("button.more")).to_be_hidden()
            expect(short.locator(".content")).not_to_have_class("collapsed")
            more = long_one.locator("button.more")
            more.click()
            expect(more).to_have_text("Show less")
            expect(more).to_have_attribute("aria-expanded", "true")
            opened = long_one.locator(".content").evaluate("e => e.getBoundingClientRect().height")
            assert opened > 2_000 * 10
            more.click()
            expect(more).to_have_text("Show more")
            expect(long_one.locator(".content")).to_have_class("content md collapsed")

    await in_browser(run)


async def test_message_metadata_is_viewable(running: Running) -> None:
    alice, sid = await seeded_session(running, "meta")
    meta = {"run": 812, "note": "<b>not bold</b>"}
    await running.mcp().call("add_message", session_id=sid, content="with metadata", metadata=meta,
                             auth_token=alice)  # fmt: skip

    def run() -> None:
        with browser_page(running) as (page, _):
            watch(page, running, sid)
            mcp(
                running,
                "add_message",
                session_id=sid,
                content="live metadata",
                metadata=meta,
                auth_token=alice,
            )
            for text in ("with metadata", "live metadata"):
                li = page.locator("#messages > li", has=page.locator(".content", has_text=text))
                details = li.locator(".message-details")
                expect(details.locator(".metadata")).to_be_hidden()
                details.locator("summary").focus()
                page.keyboard.press("Enter")
                expect(details.locator(".metadata")).to_be_visible()
                assert json.loads(details.locator(".metadata").inner_text()) == meta
                expect(details).to_contain_text("agent_response")
                expect(details).to_contain_text("alice (claude)")
            assert page.locator("#messages b").count() == 0

    await in_browser(run)
