// The session page's message list: every message built from the page's one <template> (the
// server renders the same markup for the messages it sends), Markdown, who said it (humans
// apart from agents, a stable colour and initial per sender, your own marked), local times
// with day separators, long messages collapsed, visibility filters, smart auto-scroll with
// an "N new" pill, and new messages announced to screen readers in batches. Arrivals are
// added in one animation frame. No innerHTML: user data goes in as text.

import { copyWithButton } from "./copy.js";
import { render } from "./markdown.js";
import { focusableIfScrolling } from "./scroll.js";
import { clock, dayKey, dayLabel, full, keepFresh, parseIso, relative } from "./times.js";

const VISIBILITIES = ["public", "private", "agent_only", "admin_only"];
const FOLLOW_SLACK_PX = 48; // this close to the bottom counts as "at the bottom"
export const COLLAPSE_LINES = 30;
const HUES = 8;
const ANNOUNCE_QUIET_MS = 1000; // announce once arrivals pause this long...
const ANNOUNCE_MAX_WAIT_MS = 4000; // ...or at the latest this long after the first
const SNIPPET = 100;

/** A stable colour index per sender name (FNV-1a). */
export function hue(name) {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % HUES;
}

function initial(name) {
  const ch = Array.from(String(name).trim()).find((c) => /[\p{L}\p{N}]/u.test(c));
  return ch ? ch.toUpperCase() : "?";
}

function term(dl, name, value) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  if (value instanceof Node) dd.append(value);
  else dd.textContent = String(value);
  dl.append(dt, dd);
}

/**
 * opts: list (the <ol>), template (the <template> of one message), empty (the "no messages"
 * line), pill, filters (the fieldset or null), announcer (a polite live region), copyStatus,
 * me, meType, onArrival(m) for each new message.
 */
export function createList(opts) {
  const list = opts.list;
  const pill = opts.pill;
  const seen = new Set(); // ids shown or queued: each message appears once
  let lastId = 0;
  let newestMs = NaN;
  let queue = [];
  let frameRequested = false;
  let unseen = 0;
  let heard = []; // arrivals not yet announced
  let quiet = null;
  let firstHeard = 0;

  function q(li, sel) { return li.querySelector(sel); }

  function fill(li, m) {
    const visibility = VISIBILITIES.includes(m.visibility) ? m.visibility : "other";
    const human = m.message_type === "human_input";
    const mine = m.sender === opts.me && m.sender_type === opts.meType;
    li.className = "message vis-" + visibility + (human ? " from-human" : " from-agent") +
      " hue-" + hue(String(m.sender)) + (mine ? " mine" : "");
    li.id = "m-" + m.id;
    li.dataset.id = String(m.id);
    li.dataset.timestamp = m.timestamp;
    delete li.dataset.json;
    q(li, ".avatar").textContent = initial(m.sender);
    q(li, ".sender").textContent = String(m.sender);
    q(li, ".role").textContent = human ? "human" : "agent";
    q(li, ".sender-type").textContent = String(m.sender_type);
    q(li, ".you").hidden = !mine;
    const badge = q(li, ".badge");
    badge.className = "badge badge-" + visibility;
    badge.textContent = String(m.visibility);
    q(li, "time.stamp").dateTime = m.timestamp;
    const permalink = q(li, ".permalink");
    permalink.href = "#m-" + m.id;
    permalink.textContent = "#" + m.id;
    const reply = q(li, ".reply-to");
    if (reply !== null && typeof m.parent_message_id === "number") {
      reply.hidden = false;
      reply.href = "#m-" + m.parent_message_id;
      reply.dataset.parent = String(m.parent_message_id);
      reply.textContent = "↩ reply to #" + m.parent_message_id;
    } else if (reply !== null) {
      reply.remove(); // no reply: no link, not even a hidden one
    }
    const content = q(li, ".content");
    content.id = "c-" + m.id;
    content.replaceChildren(render(String(m.content)));
    content.classList.add("md");
    const more = q(li, ".more");
    more.setAttribute("aria-controls", content.id);
    const summary = q(li, ".message-details summary");
    const hint = document.createElement("span");
    hint.className = "visually-hidden";
    hint.textContent = " of message #" + m.id;
    summary.replaceChildren("Details", hint);
    const dl = q(li, ".message-details dl");
    dl.replaceChildren();
    term(dl, "Message type", m.message_type);
    term(dl, "Sender", m.sender + " (" + m.sender_type + ")");
    term(dl, "Visibility", m.visibility);
    const ms = parseIso(m.timestamp);
    term(dl, "Sent", (Number.isNaN(ms) ? "" : full(ms) + ", ") + m.timestamp);
    if (typeof m.parent_message_id === "number") term(dl, "Reply to", "#" + m.parent_message_id);
    const meta = document.createElement("pre");
    meta.className = "metadata";
    meta.textContent = JSON.stringify(m.metadata || {}, null, 2);
    term(dl, "Metadata", meta);
    return li;
  }

  function build(m) {
    const li = opts.template.content.firstElementChild.cloneNode(true);
    fill(li, m);
    li.classList.add("fresh");
    return li;
  }

  // A "reply to #N" link that jumps to its parent; inert when the parent is not on the page.
  function wireReply(a) {
    if (a === null) return;
    const absent = document.getElementById("m-" + a.dataset.parent) === null;
    a.classList.toggle("absent", absent);
    if (absent) a.title = "Not on this page: older than the page, or not visible to you";
    else a.removeAttribute("title");
  }

  function hiddenByFilter(li) {
    return [...li.classList].some((c) => c.startsWith("vis-") && list.classList.contains("hide-" + c.slice(4)));
  }

  function shown() {
    return [...list.children].filter((li) => li.classList.contains("message") && !hiddenByFilter(li));
  }

  // Day separators before the first shown message of each local day, and each message's
  // local time: HH:MM, with seconds when a neighbour shares the minute (a burst).
  function relabel(now) {
    const items = shown();
    for (const li of list.querySelectorAll(":scope > li.message")) {
      if (hiddenByFilter(li)) { const sep = q(li, ":scope > .day-separator"); if (sep) sep.remove(); }
    }
    const times = items.map((li) => parseIso(li.dataset.timestamp));
    let prevDay = null;
    items.forEach(function (li, i) {
      const ms = times[i];
      const key = dayKey(ms);
      let sep = q(li, ":scope > .day-separator");
      if (key !== prevDay) {
        if (sep === null) {
          sep = document.createElement("div");
          sep.className = "day-separator";
          li.prepend(sep);
        }
        const label = dayLabel(ms, now);
        if (sep.textContent !== label) sep.textContent = label;
      } else if (sep !== null) {
        sep.remove();
      }
      prevDay = key;
      const minute = Math.floor(ms / 60000);
      const burst = (i > 0 && Math.floor(times[i - 1] / 60000) === minute) ||
        (i + 1 < times.length && Math.floor(times[i + 1] / 60000) === minute);
      const time = q(li, "time.stamp");
      const text = clock(ms, burst);
      if (time.textContent !== text) time.textContent = text;
      time.title = full(ms) + " (" + relative(ms, now) + ")";
    });
  }

  // Collapse what is taller than COLLAPSE_LINES lines, behind "Show more"; let wide code and
  // tables scroll in their own box, reachable by keyboard.
  function measure(lis) {
    const tall = [];
    for (const li of lis) {
      const content = q(li, ".content");
      if (content.classList.contains("expanded")) continue;
      if (content.offsetParent === null) { // filtered out: judge by the source
        const lines = content.textContent.length / 90 + content.querySelectorAll("br, p, li, tr, pre").length;
        if (lines > COLLAPSE_LINES) tall.push(li);
        continue;
      }
      const line = parseFloat(window.getComputedStyle(content).lineHeight) || 22;
      if (content.scrollHeight > line * COLLAPSE_LINES * 1.2) tall.push(li);
    }
    for (const li of tall) {
      q(li, ".content").classList.add("collapsed");
      const more = q(li, ".more");
      more.hidden = false;
      more.textContent = "Show more";
      more.setAttribute("aria-expanded", "false");
    }
    scrollables(lis);
  }

  function scrollables(lis) {
    for (const li of lis) focusableIfScrolling(li.querySelectorAll(".content pre, .content .table-wrap"));
  }

  function toggle(more, open) {
    const content = document.getElementById(more.getAttribute("aria-controls"));
    if (content === null) return;
    content.classList.toggle("collapsed", !open);
    content.classList.toggle("expanded", open);
    more.textContent = open ? "Show less" : "Show more";
    more.setAttribute("aria-expanded", String(open));
    if (!open && content.getBoundingClientRect().top < 0) content.closest("li").scrollIntoView({ block: "start" });
  }

  function atBottom() {
    return list.getBoundingClientRect().bottom <= window.innerHeight + FOLLOW_SLACK_PX;
  }

  function pageAtEnd() {
    const page = document.scrollingElement;
    return page.scrollTop + window.innerHeight >= page.scrollHeight - FOLLOW_SLACK_PX;
  }

  function showUnseen() {
    if (unseen === 0) {
      pill.hidden = true;
      return;
    }
    pill.textContent = unseen === 1 ? "1 new message ↓" : unseen + " new messages ↓";
    pill.hidden = false;
  }

  function announce() {
    window.clearTimeout(quiet);
    quiet = null;
    const batch = heard;
    heard = [];
    if (batch.length === 0) return;
    let text;
    if (batch.length === 1) {
      const m = batch[0];
      const words = String(m.content).replace(/\s+/g, " ").trim();
      text = "New message from " + m.sender + ": " +
        (words.length > SNIPPET ? words.slice(0, SNIPPET) + "…" : words);
    } else {
      const names = [...new Set(batch.map((m) => String(m.sender)))];
      const who = names.length <= 3 ? names.join(", ").replace(/, ([^,]*)$/, " and $1")
        : names.slice(0, 2).join(", ") + " and " + (names.length - 2) + " others";
      text = batch.length + " new messages, from " + who;
    }
    opts.announcer.textContent = text;
  }

  function hear(m) {
    if (m.sender === opts.me && m.sender_type === opts.meType) return; // you know what you wrote
    if (heard.length === 0) firstHeard = Date.now();
    heard.push(m);
    window.clearTimeout(quiet);
    const wait = Math.min(ANNOUNCE_QUIET_MS, Math.max(0, firstHeard + ANNOUNCE_MAX_WAIT_MS - Date.now()));
    quiet = window.setTimeout(announce, wait);
  }

  function note(m) {
    seen.add(m.id);
    lastId = Math.max(lastId, m.id);
    const ms = parseIso(m.timestamp);
    if (!(ms <= newestMs)) newestMs = ms;
  }

  function accept(m) {
    if (!m || typeof m.id !== "number" || seen.has(m.id)) return false;
    note(m);
    if (opts.onArrival) opts.onArrival(m);
    queue.push(m);
    if (!frameRequested) {
      frameRequested = true;
      window.requestAnimationFrame(flush);
    }
    return true;
  }

  // One DOM update per frame, however many messages arrived since the last one.
  function flush() {
    frameRequested = false;
    const batch = queue.sort((a, b) => a.id - b.id);
    queue = [];
    const follow = atBottom();
    const toEnd = pageAtEnd();
    const built = batch.map(build);
    const lastShown = list.lastElementChild;
    if (lastShown === null || Number(lastShown.dataset.id) < batch[0].id) {
      const fragment = document.createDocumentFragment();
      for (const li of built) fragment.append(li);
      list.append(fragment);
    } else { // never expected (ids only grow), but keep id order if it happens
      for (const li of built) {
        const after = [...list.children].find((x) => Number(x.dataset.id) > Number(li.dataset.id));
        list.insertBefore(li, after || null);
      }
    }
    let visible = 0;
    built.forEach(function (li, i) {
      wireReply(q(li, ".reply-to"));
      if (!hiddenByFilter(li)) {
        visible++;
        hear(batch[i]);
      }
    });
    opts.empty.hidden = list.children.length > 0;
    relabel(Date.now());
    measure(built);
    if (follow) {
      if (toEnd) window.scrollTo(0, document.scrollingElement.scrollHeight);
      else list.lastElementChild.scrollIntoView({ block: "nearest" });
    } else if (visible > 0) {
      unseen += visible;
      showUnseen();
    }
  }

  function jumpToNewest() {
    const items = shown();
    const newest = items[items.length - 1];
    unseen = 0;
    showUnseen();
    if (!newest) return;
    newest.scrollIntoView({ block: "end" });
    newest.tabIndex = -1; // keyboard users land on the newest message, not on <body>
    newest.focus({ preventScroll: true });
  }

  pill.addEventListener("click", jumpToNewest);
  window.addEventListener("scroll", function () {
    if (unseen > 0 && atBottom()) {
      unseen = 0;
      showUnseen();
    }
  }, { passive: true });
  let resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () { scrollables(list.children); }, 200);
  });

  if (opts.filters) {
    opts.filters.hidden = false; // without this script they could not work, so they stay hidden
    opts.filters.addEventListener("change", function (ev) {
      const box = ev.target;
      if (box.type !== "checkbox") return;
      list.classList.toggle("hide-" + box.value, !box.checked);
      relabel(Date.now());
      measure(shown().filter((li) => !q(li, ".content").classList.contains("collapsed")));
    });
    for (const box of opts.filters.querySelectorAll("input[type=checkbox]")) {
      list.classList.toggle("hide-" + box.value, !box.checked); // a reload may keep them unticked
    }
  }

  list.addEventListener("click", function (ev) {
    const absent = ev.target.closest(".reply-to.absent");
    if (absent) ev.preventDefault();
    const more = ev.target.closest("button.more");
    if (more) toggle(more, more.getAttribute("aria-expanded") !== "true");
    const copy = ev.target.closest("button.copy-code");
    if (copy) {
      const code = copy.closest(".code-block").querySelector("code");
      copyWithButton(copy, code.textContent, code, opts.copyStatus);
    }
  });
  // Keyboard focus landing inside a collapsed message opens it: nothing focusable stays clipped.
  list.addEventListener("focusin", function (ev) {
    const content = ev.target.closest(".content.collapsed");
    if (content) toggle(content.closest("li").querySelector("button.more"), true);
  });

  // The server-rendered messages: the same fill as live ones, from the data they carry.
  const fromServer = [];
  for (const li of list.querySelectorAll(":scope > li.message[data-json]")) {
    const m = JSON.parse(li.dataset.json);
    m.content = q(li, ".content").textContent;
    note(m);
    fill(li, m);
    fromServer.push(li);
  }
  for (const li of fromServer) wireReply(q(li, ".reply-to"));
  keepFresh(relabel);
  measure(fromServer);

  return {
    accept: accept,
    lastId: function () { return lastId; },
    newest: function () { return newestMs; },
  };
}
