// Message content as agents write it: CommonMark plus GFM tables, task lists, strikethrough
// and autolinks, parsed by the vendored markdown-it (raw HTML off) and built into DOM nodes
// from its token stream with createElement and text nodes only (never innerHTML), so raw HTML
// in a message is the text it is. Links only for http:, https: and mailto: (anything else,
// javascript: included, stays text). Code blocks are highlighted by the vendored highlight.js
// (its markup re-built from an inert parse, <span class> only) and get a Copy button.
// Headings sit under the page's own <h2>: a message's largest heading is an <h3>, the next
// level an <h4>, and so on (however many "#" the author used), never skipping a level.

import markdownit from "../vendor/markdown-it/markdown-it.esm.min.js";
import hljs from "../vendor/highlight.js/highlight.min.js";

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const LINK_REL = "noopener noreferrer nofollow";
const LANG = /^[\w+#.-]{1,30}$/;
const HIGHLIGHT_MAX = 200000; // characters; beyond, a block is shown plain
const TASK = /^\[([ xX])\][ \t]+/;
const CLASS = /^[\w-]+( [\w-]+)*$/;

export function safeHref(url) {
  let parsed;
  try { parsed = new URL(url); } catch (e) { return null; } // relative URLs fail too
  return SAFE_PROTOCOLS.has(parsed.protocol) ? parsed.href : null;
}

const md = markdownit("default", { html: false, linkify: true, breaks: true, typographer: false });
md.validateLink = function (url) { return safeHref(url) !== null; };
md.linkify.set({ fuzzyLink: true, fuzzyEmail: true }); // GFM's www.example.com and a@b.org

// GFM task lists: "- [ ] x" / "- [x] x" mark the item; the marker leaves the text.
md.core.ruler.after("inline", "scsd_task_lists", function (state) {
  const tokens = state.tokens;
  for (let i = 2; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.type !== "inline" || tokens[i - 1].type !== "paragraph_open" ||
      tokens[i - 2].type !== "list_item_open") continue;
    const first = t.children[0];
    const m = first && first.type === "text" ? TASK.exec(first.content) : null;
    if (!m) continue;
    first.content = first.content.slice(m[0].length);
    tokens[i - 2].meta = { task: m[1] !== " " };
  }
});

function el(tag, cls) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  return node;
}

// highlight.js's HTML, re-built from an inert document: text and <span class="hljs-…"> only.
function copyHighlighted(from, to) {
  for (const node of from.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      to.append(node.data);
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      const cls = node.getAttribute("class") || "";
      if (node.tagName === "SPAN" && CLASS.test(cls)) {
        const span = el("span", cls);
        copyHighlighted(node, span);
        to.append(span);
      } else {
        to.append(node.textContent);
      }
    }
  }
}

function highlightInto(code, text, lang) {
  if (lang && text.length <= HIGHLIGHT_MAX && hljs.getLanguage(lang)) {
    try {
      const html = hljs.highlight(text, { language: lang, ignoreIllegals: true }).value;
      const doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
      copyHighlighted(doc.body.firstChild, code);
      code.classList.add("hljs");
      return;
    } catch (e) { /* shown plain */ }
  }
  code.textContent = text;
}

function codeBlock(text, info) {
  const lang = (info || "").trim().split(/\s+/)[0].toLowerCase();
  const known = LANG.test(lang) ? lang : "";
  const wrap = el("div", "code-block");
  const bar = el("div", "code-bar");
  const name = el("span", "code-lang");
  name.textContent = known || "text";
  const copy = el("button", "copy copy-code");
  copy.type = "button";
  copy.textContent = "Copy";
  copy.setAttribute("aria-label", "Copy code" + (known ? " (" + known + ")" : ""));
  bar.append(name, copy);
  const pre = el("pre");
  const code = el("code", known ? "language-" + known : "");
  highlightInto(code, text.replace(/\n$/, ""), known);
  pre.append(code);
  wrap.append(bar, pre);
  return wrap;
}

function opening(t, rank) {
  switch (t.type) {
    case "paragraph_open": return t.hidden ? null : el("p");
    case "heading_open": {
      const level = Number(t.tag.slice(1)) || 1;
      return el("h" + Math.min(6, 3 + rank.get(level)), "md-h" + level);
    }
    case "blockquote_open": return el("blockquote");
    case "bullet_list_open": return el("ul");
    case "ordered_list_open": {
      const ol = el("ol");
      const start = Number(t.attrGet("start"));
      if (Number.isInteger(start) && start !== 1) ol.start = start;
      return ol;
    }
    case "list_item_open": {
      const li = el("li");
      if (t.meta && typeof t.meta.task === "boolean") {
        li.className = "task";
        const box = el("input");
        box.type = "checkbox";
        box.disabled = true;
        box.checked = t.meta.task;
        box.setAttribute("aria-label", t.meta.task ? "done" : "not done");
        li.append(box, " ");
      }
      return li;
    }
    case "th_open": case "td_open": {
      const cell = el(t.tag);
      const align = /text-align:(left|right|center)/.exec(t.attrGet("style") || "");
      if (align) cell.className = "align-" + align[1];
      if (t.tag === "th") cell.scope = "col";
      return cell;
    }
    case "table_open": return el("table");
    case "thead_open": case "tbody_open": case "tr_open": return el(t.tag);
    case "strong_open": return el("strong");
    case "em_open": return el("em");
    case "s_open": return el("del");
    case "link_open": {
      const href = safeHref(t.attrGet("href") || "");
      if (href === null) return el("span");
      const a = el("a");
      a.href = href;
      a.rel = LINK_REL;
      const title = t.attrGet("title");
      if (title) a.title = title;
      return a;
    }
    default: return el("span");
  }
}

function leaf(t, parent) {
  switch (t.type) {
    case "text": parent.append(t.content); break;
    case "softbreak": case "hardbreak": parent.append(el("br")); break;
    case "code_inline": { const c = el("code"); c.textContent = t.content; parent.append(c); break; }
    case "fence": parent.append(codeBlock(t.content, t.info)); break;
    case "code_block": parent.append(codeBlock(t.content, "")); break;
    case "hr": parent.append(el("hr")); break;
    case "image": { // never loaded: a link to it, named by its alt text
      const href = safeHref(t.attrGet("src") || "");
      const label = "image: " + (t.content || href || "");
      if (href === null) { parent.append(label); break; }
      const a = el("a", "image-link");
      a.href = href;
      a.rel = LINK_REL;
      a.textContent = label;
      parent.append(a);
      break;
    }
    default: if (t.content) parent.append(t.content); // html_* cannot occur (html: false)
  }
}

function tooDeep(tokens) {
  const limit = md.options.maxNesting - 1;
  return tokens.some((t) => t.level >= limit || (t.children || []).some((c) => c.level >= limit));
}

/** `source` rendered as a DocumentFragment. */
export function render(source) {
  const fragment = document.createDocumentFragment();
  const stack = [fragment];
  const tokens = md.parse(String(source), {});
  if (tooDeep(tokens)) { // markdown-it drops what lies past its nesting limit: show it all as text
    const plain = el("p", "plain");
    plain.textContent = String(source);
    fragment.append(plain);
    return fragment;
  }
  // The heading levels the message uses, in order: the first is an <h3>, the second an <h4>...
  const levels = [...new Set(tokens.filter((t) => t.type === "heading_open")
    .map((t) => Number(t.tag.slice(1)) || 1))].sort((a, b) => a - b);
  const rank = new Map(levels.map((level, i) => [level, i]));
  function walk(tokens) {
    for (const t of tokens) {
      const top = stack[stack.length - 1];
      if (t.type === "inline") {
        walk(t.children || []);
      } else if (t.nesting === 1) {
        const node = opening(t, rank);
        if (node === null) { stack.push(top); continue; }
        if (t.type === "table_open") {
          const wrap = el("div", "table-wrap");
          wrap.append(node);
          top.append(wrap);
        } else {
          top.append(node);
        }
        stack.push(node);
      } else if (t.nesting === -1) {
        if (stack.length > 1) stack.pop();
      } else {
        leaf(t, top);
      }
    }
  }
  walk(tokens);
  return fragment;
}
