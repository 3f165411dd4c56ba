// Safe Markdown for message content. It builds DOM nodes with createElement and text nodes
// only (never innerHTML), so raw HTML in a message is shown as the text it is.
// Blocks: paragraphs (single line breaks kept), # headings, > blockquotes, - / 1. lists
// (nested by indentation), ``` fenced code, --- rules. Inline: **bold**, *italic*, ~~struck~~,
// `code`, [text](url), <url> and bare http(s) URLs; links keep only http:, https: and
// mailto: targets (anything else, javascript: included, is shown as text).
// Every scan moves forward or is cached, so hostile input costs linear time, not quadratic.
"use strict";
window.ScsdMarkdown = (function () {
  const MAX_DEPTH = 8;
  const MAX_URL = 2048;
  const SAFE_PROTOCOLS = ["http:", "https:", "mailto:"];
  const LINK_REL = "noopener noreferrer nofollow";
  const ESCAPABLE = "\\`*_{}[]()#+-.!~>|<";

  const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
  const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
  const RULE = /^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$/;
  const QUOTE = /^ {0,3}> ?(.*)$/;
  const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$/;
  const LANG = /^[\w+#.-]{1,30}$/;

  function el(tag, cls) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    return node;
  }

  function safeHref(url) {
    let parsed;
    try { parsed = new URL(url); } catch (e) { return null; } // relative URLs fail too
    return SAFE_PROTOCOLS.includes(parsed.protocol) ? parsed.href : null;
  }

  function link(href, label) {
    const a = el("a");
    a.href = href;
    a.rel = LINK_REL;
    if (typeof label === "string") a.textContent = label;
    return a;
  }

  const isBlank = (line) => /^\s*$/.test(line);
  const indentOf = (line) => line.length - line.trimStart().length;
  const isSpace = (ch) => ch === undefined || /\s/.test(ch);
  const isWord = (ch) => ch !== undefined && /[\p{L}\p{N}_]/u.test(ch);

  function startsBlock(line) {
    return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) ||
      ITEM.test(line);
  }

  // ---- blocks ----

  function blocks(lines, parent, depth) {
    if (depth > MAX_DEPTH) { // absurd nesting: the rest as plain text
      parent.append(document.createTextNode(lines.join("\n")));
      return;
    }
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (isBlank(line)) {
        i++;
      } else if ((m = FENCE.exec(line))) {
        i = fenced(lines, i, m, parent);
      } else if ((m = HEADING.exec(line))) {
        const h = el("h" + Math.min(6, m[1].length + 2), "md-h" + m[1].length);
        inline(m[2] || "", h, false);
        parent.append(h);
        i++;
      } else if (RULE.test(line)) {
        parent.append(el("hr"));
        i++;
      } else if (QUOTE.test(line)) {
        const inner = [];
        while (i < lines.length && (m = QUOTE.exec(lines[i]))) { inner.push(m[1]); i++; }
        const quote = el("blockquote");
        blocks(inner, quote, depth + 1);
        parent.append(quote);
      } else if (ITEM.test(line)) {
        i = list(lines, i, parent, depth);
      } else {
        const para = [];
        while (i < lines.length && !isBlank(lines[i]) && (para.length === 0 || !startsBlock(lines[i]))) {
          para.push(lines[i].trim());
          i++;
        }
        const p = el("p");
        inline(para.join("\n"), p, false);
        parent.append(p);
      }
    }
  }

  function fenced(lines, i, open, parent) {
    const indent = open[1].length;
    const fence = open[2];
    const closing = new RegExp("^ {0,3}" + (fence[0] === "`" ? "`" : "~") + "{" + fence.length + ",}\\s*$");
    const body = [];
    i++;
    while (i < lines.length && !closing.test(lines[i])) {
      const line = lines[i];
      body.push(line.slice(Math.min(indent, indentOf(line))));
      i++;
    }
    const pre = el("pre");
    const code = el("code");
    if (LANG.test(open[3])) code.className = "language-" + open[3];
    code.textContent = body.join("\n");
    pre.append(code);
    parent.append(pre);
    return i + 1; // past the closing fence (or the end: an unclosed fence runs to the end)
  }

  function list(lines, i, parent, depth) {
    const first = ITEM.exec(lines[i]);
    const ordered = /\d/.test(first[2]);
    const kind = (m) => m !== null && /\d/.test(m[2]) === ordered;
    const node = el(ordered ? "ol" : "ul");
    if (ordered && parseInt(first[2], 10) !== 1) node.start = parseInt(first[2], 10);
    let m = first;
    while (kind(m)) {
      const width = m[1].length + m[2].length + 1; // where the item's own lines start
      const body = [m[3] || ""];
      i++;
      while (i < lines.length) {
        const line = lines[i];
        if (isBlank(line)) {
          let j = i;
          while (j < lines.length && isBlank(lines[j])) j++;
          if (j < lines.length && indentOf(lines[j]) >= width) {
            for (; i < j; i++) body.push("");
            continue;
          }
          break;
        }
        if (indentOf(line) >= width) body.push(line.slice(width));
        else if (ITEM.test(line) || startsBlock(line)) break;
        else body.push(line); // a lazy continuation of the item's text
        i++;
      }
      const li = el("li");
      item(body, li, depth + 1);
      node.append(li);
      let j = i;
      while (j < lines.length && isBlank(lines[j])) j++;
      m = j < lines.length ? ITEM.exec(lines[j]) : null;
      if (kind(m)) i = j;
    }
    parent.append(node);
    return i;
  }

  function item(body, li, depth) {
    const holder = document.createDocumentFragment();
    blocks(body, holder, depth);
    const only = holder.firstChild;
    if (only !== null && only === holder.lastChild && only.nodeName === "P") {
      li.append(...only.childNodes); // a tight item: no paragraph around its text
    } else {
      li.append(holder);
    }
  }

  // ---- inline ----

  function inline(text, parent, inLink) {
    const n = text.length;
    const cache = new Map(); // token -> next index found (from positions that only grow)
    const urlEnds = new Map();
    let buf = "";
    let i = 0;

    function find(token, from) {
      const hit = cache.get(token);
      if (hit !== undefined && (hit === -1 || hit >= from)) return hit;
      const at = text.indexOf(token, from);
      cache.set(token, at);
      return at;
    }

    function urlEnd(from) { // the ")" closing a link target, with balanced parentheses
      if (urlEnds.has(from)) return urlEnds.get(from);
      let depthOf = 0;
      let end = -1;
      for (let j = from; j < n && j - from <= MAX_URL; j++) {
        const ch = text[j];
        if (ch === "\n") break;
        if (ch === "(") depthOf++;
        else if (ch === ")") {
          if (depthOf === 0) { end = j; break; }
          depthOf--;
        }
      }
      urlEnds.set(from, end);
      return end;
    }

    function flush() {
      if (buf) parent.append(document.createTextNode(buf));
      buf = "";
    }

    function wrap(tag, inner) {
      flush();
      const node = el(tag);
      inline(inner, node, inLink);
      parent.append(node);
    }

    while (i < n) {
      const c = text[i];
      if (c === "\\" && i + 1 < n && ESCAPABLE.includes(text[i + 1])) {
        buf += text[i + 1];
        i += 2;
      } else if (c === "\n") {
        flush();
        parent.append(el("br"));
        i++;
      } else if (c === "`") {
        let k = i;
        while (k < n && text[k] === "`") k++;
        const run = text.slice(i, k);
        const end = find(run, k);
        if (end === -1) {
          buf += run;
          i = k;
          continue;
        }
        flush();
        const code = el("code");
        let inner = text.slice(k, end).replace(/\n/g, " ");
        if (/^ .*[^ ].* $/.test(inner)) inner = inner.slice(1, -1);
        code.textContent = inner;
        parent.append(code);
        i = end + run.length;
      } else if (c === "*" || c === "_" || c === "~") {
        const double = text[i + 1] === c;
        const token = double ? c + c : c;
        const from = i + token.length;
        const end = (c === "~" && !double) || (c === "_" && isWord(text[i - 1])) ? -1 : find(token, from);
        if (end > from && !isSpace(text[from]) && !isSpace(text[end - 1]) &&
            !(c === "_" && isWord(text[end + token.length]))) {
          wrap(c === "~" ? "del" : double ? "strong" : "em", text.slice(from, end));
          i = end + token.length;
        } else {
          buf += token;
          i = from;
        }
      } else if (c === "[" && !inLink && find("](", i + 1) !== -1 && urlEnd(find("](", i + 1) + 2) !== -1) {
        const close = find("](", i + 1);
        const end = urlEnd(close + 2);
        const target = text.slice(close + 2, end).trim().split(/\s+/)[0];
        const href = safeHref(target);
        if (href === null) {
          buf += text.slice(i, end + 1); // not a link we allow: the source, as text
        } else {
          flush();
          const a = link(href, null);
          inline(text.slice(i + 1, close), a, true);
          if (!a.firstChild) a.textContent = href;
          parent.append(a);
        }
        i = end + 1;
      } else if (c === "<" && !inLink && /^<(?:https?:\/\/|mailto:)/i.test(text.slice(i, i + 10))) {
        const angle = /<([^\s<>]+)>/y;
        angle.lastIndex = i;
        const m = angle.exec(text);
        const href = m ? safeHref(m[1]) : null;
        if (href === null) {
          buf += c;
          i++;
        } else {
          flush();
          parent.append(link(href, m[1]));
          i = angle.lastIndex;
        }
      } else if ((c === "h" || c === "H") && !inLink && !isWord(text[i - 1]) &&
                 /^https?:\/\//i.test(text.slice(i, i + 8))) {
        const bare = /[^\s<>]+/y;
        bare.lastIndex = i;
        let url = bare.exec(text)[0];
        url = trimUrl(url);
        const href = safeHref(url);
        if (href === null) {
          buf += url;
        } else {
          flush();
          parent.append(link(href, url));
        }
        i += url.length;
      } else {
        buf += c;
        i++;
      }
    }
    flush();
  }

  // Sentence punctuation after a bare URL is not part of it; nor is a ")" without its "(".
  function trimUrl(url) {
    for (;;) {
      const last = url[url.length - 1];
      if (/[.,:;!?'"*_~]/.test(last)) url = url.slice(0, -1);
      else if (last === ")" && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length) {
        url = url.slice(0, -1);
      } else return url;
    }
  }

  function render(text) {
    const fragment = document.createDocumentFragment();
    const lines = String(text).replace(/\r\n?/g, "\n").replace(/^\t+/gm, (t) => "    ".repeat(t.length))
      .split("\n");
    blocks(lines, fragment, 0);
    return fragment;
  }

  return { render, safeHref };
})();
