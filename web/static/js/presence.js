// Who is here, on the session page: who is composing ("alice is composing…", from `typing`
// events), who is watching ("Watching: alice (claude)", from `subscribed` and `presence`), and
// the signed-in person's own typing signal from the composer. Used by session.js. No
// innerHTML: names go in as text.

import { postJson } from "./net.js";
import { parseIso } from "./times.js";

// A start lapses after 6 s by the daemon's clock. Longer than this would mean the clock
// estimate is wrong; the indicator is then cut short rather than left up for long.
const MAX_TYPING_MS = 10000;
const SEND_EVERY_MS = 3000; // while typing, repeat the start at most this often
const IDLE_MS = 5000; // no input for this long: send a stop
const SHOWN_WATCHERS = 8;

// opts: sessionId, me, meType, serverNow (ISO, when the page was rendered), csrf, and the
// elements typing (the aria-live line), watchers (the "Watching:" line) and watcherList.
export function create(opts) {
  // The daemon's clock minus the browser's, as memory.js estimates it: `expires_at` is the
  // daemon's time, and the browser's clock may be off by minutes. Measured at page load, so
  // it errs by the page's render-to-script time (well under a second), always toward
  // showing an indicator slightly longer.
  const rendered = parseIso(opts.serverNow);
  const skew = Number.isNaN(rendered) ? 0 : rendered - Date.now();
  const typers = new Map(); // agent id -> its timeout; in order of who started first
  let conn = null;
  let mayType = true;

  function sentence() {
    const names = [...typers.keys()];
    if (names.length === 0) return "";
    if (names.length === 1) return names[0] + " is composing…";
    if (names.length === 2) return names[0] + " and " + names[1] + " are composing…";
    return names.length + " people are composing…";
  }

  function render() {
    const text = sentence();
    if (opts.typing.textContent !== text) opts.typing.textContent = text; // announce changes only
  }

  function stopped(agent) {
    const timer = typers.get(agent);
    if (timer === undefined) return;
    window.clearTimeout(timer);
    typers.delete(agent);
    render();
  }

  function started(agent, expiresAt) {
    const left = Math.min(MAX_TYPING_MS, parseIso(expiresAt) - (Date.now() + skew));
    if (!(left > 0)) return stopped(agent); // already lapsed (or no time given)
    const timer = typers.get(agent);
    if (timer !== undefined) window.clearTimeout(timer);
    typers.set(agent, window.setTimeout(function () { stopped(agent); }, left));
    render();
  }

  function typing(data) {
    if (!data || data.session_id !== opts.sessionId || typeof data.agent_id !== "string") return;
    if (data.agent_id === opts.me) return; // never your own: you know you are typing
    if (data.typing === true) started(data.agent_id, data.expires_at);
    else stopped(data.agent_id);
  }

  function watching(p) {
    if (!p || !Array.isArray(p.watchers)) return;
    const shown = p.watchers.slice(0, SHOWN_WATCHERS);
    const nodes = [];
    shown.forEach(function (w, i) {
      const you = w.agent_id === opts.me && w.agent_type === opts.meType;
      const span = document.createElement("span");
      span.className = you ? "watcher me" : "watcher";
      span.textContent = String(w.agent_id) + " (" + String(w.agent_type) + (you ? ", you" : "") + ")";
      if (i > 0) nodes.push(", ");
      nodes.push(span);
    });
    const count = typeof p.count === "number" ? p.count : shown.length;
    if (count > shown.length) nodes.push(" +" + (count - shown.length) + " more");
    opts.watcherList.replaceChildren(...nodes);
    opts.watchers.hidden = shown.length === 0;
  }

  function onEvent(ev) {
    // Over SSE the stream is of this session only, and its presence data names none.
    const here = ev.session_id === opts.sessionId || (ev.type === "presence" && ev.session_id === undefined);
    if (ev.type === "typing") {
      typing(ev.data);
    } else if (ev.type === "subscribed" && here && ev.data) {
      watching(ev.data.presence);
    } else if (ev.type === "presence" && here) {
      watching(ev.data);
    } else if (ev.type === "error" && ev.id === "typing" && ev.data && ev.data.code === "PERMISSION_DENIED") {
      mayType = false;
    }
  }

  // Who watches is known only while live; the next `subscribed` (or SSE opening) says again.
  function onStatus(kind) {
    if (kind !== "live") opts.watchers.hidden = true;
  }

  // Over the WebSocket when there is one (no HTTP request per keystroke burst), otherwise
  // the UI's own endpoint; a refusal (rate limit, a lapse of the network) is not worth a word.
  function signal(flag) {
    if (!mayType) return;
    const call = { tool: "typing", arguments: { session_id: opts.sessionId, typing: flag }, id: "typing" };
    if (conn !== null && conn.send(call)) return;
    postJson("/ui/api/sessions/" + encodeURIComponent(opts.sessionId) + "/typing", opts.csrf,
      { typing: flag }).then(function (r) {
      if (r.status === 403) mayType = false;
    }).catch(function () { /* the indicator lapses by itself */ });
  }

  // The post form's textarea: a start on input (at most every SEND_EVERY_MS), a stop when it
  // is emptied or after IDLE_MS without input. Posting clears it for everyone by itself.
  function compose(textarea, form) {
    let sentAt = 0; // when the running start was sent; 0: none running
    let idle = null;
    function stop() {
      window.clearTimeout(idle);
      idle = null;
      if (sentAt === 0) return;
      sentAt = 0;
      signal(false);
    }
    textarea.addEventListener("input", function () {
      if (textarea.value.trim() === "") return stop();
      const now = Date.now();
      if (now - sentAt >= SEND_EVERY_MS) {
        sentAt = now;
        signal(true);
      }
      window.clearTimeout(idle);
      idle = window.setTimeout(stop, IDLE_MS);
    });
    form.addEventListener("submit", function () {
      window.clearTimeout(idle);
      idle = null;
      sentAt = 0;
    });
  }

  return {
    onEvent: onEvent,
    onStatus: onStatus,
    messageFrom: stopped, // a message from X ends X's indicator
    compose: compose,
    attach: function (connection) { conn = connection; },
  };
}

