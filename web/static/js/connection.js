// The live connection of the dashboard and the session page: WebSocket first, then
// Server-Sent Events, then periodic refresh; the status indicator that says which, since when
// the daemon has been out of reach, and offers "Retry now". No innerHTML.
//
// While the daemon does not answer, attempts follow a backoff capped at BACKOFF_CAP_MS with
// jitter, and "online" / the page becoming visible retry at once; so a page is live again
// within about 1.5 s of the daemon answering. After UNAVAILABLE_AFTER_MS the indicator says
// "unavailable" rather than "reconnecting". A live WebSocket that goes silent (no frame for
// SILENCE_MS, while the daemon pings every 30 s) or does not answer a ping is replaced.

import { getJson, SignedOut } from "./net.js";
import { clock } from "./times.js";

const WS_FAILURES_BEFORE_SSE = 3;
const SSE_FAILURES_BEFORE_POLLING = 3;
const POLL_MS = 5000;
const PROBE_MS = 60000; // while polling, try the real-time transports again this often
export const BACKOFF_BASE_MS = 250;
export const BACKOFF_CAP_MS = 1500;
export const UNAVAILABLE_AFTER_MS = 15000;
const SILENCE_MS = 75000;
const PONG_WAIT_MS = 5000;
export const LIVE = "Real-time updates active";
const POLLING = "Real-time updates unavailable: refreshing every " + POLL_MS / 1000 + " s";
const NO_ANSWER = "Real-time updates unavailable: the server does not answer";

function backoff(attempt) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, attempt));
  return ceiling / 2 + Math.random() * ceiling / 2; // "equal jitter": never two pages in step
}

/**
 * opts: csrf, wsPort; box (the #connection element holding #live-status, #live-detail and
 * #retry-now); frames() -> the calls to send once the socket is open; onEvent({type, data,
 * ...}) for every event (WebSocket or SSE); sseUrl(token) -> the SSE URL, or null when the
 * page has none; sseEvents: the SSE event names; poll() -> a promise that fetches what is
 * new; onLive(transport) after each (re)connect; onStatus(kind) on every change ("live",
 * "connecting", "reconnecting", "unavailable", "polling"); lastActivity() -> ms of the
 * newest item shown, activity: its name ("last message").
 * Returns { send(call) -> false when there is no working WebSocket, retryNow(), kind() }.
 */
export function connect(opts) {
  const box = opts.box;
  const status = box.querySelector("#live-status");
  const detail = box.querySelector("#live-detail");
  const retryButton = box.querySelector("#retry-now");
  let generation = 0; // bumped by every attempt: callbacks of older attempts are ignored
  let wsFailures = 0;
  let sseFailures = 0;
  let unreachable = 0; // the daemon itself did not answer: retried, not a transport failure
  let probing = false; // a quiet attempt from polling mode
  let pollTimer = null;
  let probeTimer = null;
  let pending = null; // the scheduled next attempt: { fn, timer }
  let socket = null; // the WebSocket while it works, for send()
  let kind = "connecting";
  let offlineSince = null;
  let unavailableTimer = null;
  let maxBackoff = 0;
  let attempts = 0;

  function describe() {
    const parts = [];
    if (offlineSince !== null) parts.push("offline since " + clock(offlineSince, true));
    const last = opts.lastActivity ? opts.lastActivity() : NaN;
    if (offlineSince !== null && Number.isFinite(last)) {
      parts.push((opts.activity || "last update") + " " + clock(last, false));
    }
    if (kind === "unavailable" && pollTimer === null) parts.push("retrying every " + BACKOFF_CAP_MS / 1000 + " s");
    const text = parts.join(" · ");
    if (detail.textContent !== text) detail.textContent = text;
    retryButton.hidden = kind === "live" || kind === "connecting";
    box.dataset.offlineSince = offlineSince === null ? "" : new Date(offlineSince).toISOString();
  }

  function show(next, text, transport) {
    kind = next;
    status.className = "status status-" + next;
    if (status.textContent !== text) status.textContent = text;
    status.dataset.transport = transport || "";
    box.className = "connection is-" + next;
    document.body.classList.toggle("stale", next === "reconnecting" || next === "unavailable");
    describe();
    if (opts.onStatus) opts.onStatus(next);
  }

  function wentOffline() {
    if (offlineSince !== null) return;
    offlineSince = Date.now();
    window.clearTimeout(unavailableTimer);
    unavailableTimer = window.setTimeout(function () {
      if (kind === "reconnecting") reconnecting();
    }, UNAVAILABLE_AFTER_MS);
  }

  function later(fn, ms) {
    const gen = generation;
    if (pending !== null) window.clearTimeout(pending.timer);
    maxBackoff = Math.max(maxBackoff, ms);
    box.dataset.maxBackoffMs = String(Math.round(maxBackoff));
    const timer = window.setTimeout(function () {
      pending = null;
      if (gen === generation) fn();
    }, ms);
    pending = { fn: fn, timer: timer };
  }

  function live(transport) {
    wsFailures = 0;
    sseFailures = 0;
    unreachable = 0;
    probing = false;
    offlineSince = null;
    window.clearTimeout(unavailableTimer);
    stopPolling();
    show("live", LIVE, transport);
    box.dataset.liveAt = String(Date.now());
    if (opts.onLive) opts.onLive(transport);
  }

  function reconnecting() {
    wentOffline();
    if (Date.now() - offlineSince >= UNAVAILABLE_AFTER_MS) {
      show("unavailable", "Unavailable: the server does not answer", "");
    } else {
      show("reconnecting", "Reconnecting…", "");
    }
  }

  // A token per attempt: it lives 10 minutes, and the page may stay open for days.
  async function withToken(retry) {
    attempts++;
    box.dataset.attempts = String(attempts);
    try {
      const body = await getJson("/ui/api/token", opts.csrf);
      return body.token;
    } catch (e) {
      if (e instanceof SignedOut) return null;
      if (probing) { probing = false; return null; }
      unreachable++;
      reconnecting();
      later(retry, backoff(unreachable));
      return null;
    }
  }

  // Give up on a socket that stopped answering: ignore whatever it does from now on (a dead
  // network can take minutes to report the close) and connect again.
  function abandon(ws) {
    if (socket === ws) socket = null;
    generation++;
    try { ws.close(4000, "no answer"); } catch (e) { /* already closing */ }
    reconnecting();
    later(tryWs, 0);
  }

  async function tryWs() {
    const gen = ++generation;
    const tok = await withToken(tryWs);
    if (tok === null || gen !== generation) return;
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = proto + "//" + window.location.hostname + ":" + opts.wsPort + "/ws?token=" +
      encodeURIComponent(tok);
    let ws;
    try { ws = new WebSocket(url); } catch (e) { return wsFailed(gen); }
    let working = false;
    let silence = null;
    let pongWait = null;
    function heard() {
      window.clearTimeout(silence);
      window.clearTimeout(pongWait);
      pongWait = null;
      silence = window.setTimeout(function () { if (gen === generation) abandon(ws); }, SILENCE_MS);
    }
    ws.checkAlive = function () {
      if (pongWait !== null || ws.readyState !== WebSocket.OPEN) return;
      ws.send(JSON.stringify({ type: "ping", id: "alive" }));
      pongWait = window.setTimeout(function () { if (gen === generation) abandon(ws); }, PONG_WAIT_MS);
    };
    ws.onopen = function () {
      heard();
      for (const frame of opts.frames()) ws.send(JSON.stringify(frame));
    };
    ws.onmessage = function (ev) {
      if (gen !== generation) { ws.close(); return; }
      heard();
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "pong" || msg.type === "ping") return;
      if (msg.type === "subscribed" && !working) {
        working = true;
        socket = ws;
        live("websocket");
      }
      opts.onEvent(msg);
    };
    ws.onclose = function () {
      window.clearTimeout(silence);
      window.clearTimeout(pongWait);
      if (socket === ws) socket = null;
      if (gen !== generation) return;
      if (!working) return wsFailed(gen);
      reconnecting(); // it was working (daemon restart, resync): reconnect from the last id
      later(tryWs, backoff(0));
    };
  }

  function wsFailed(gen) {
    if (gen !== generation) return;
    wsFailures++;
    if (probing || wsFailures >= WS_FAILURES_BEFORE_SSE) return trySse();
    reconnecting();
    later(tryWs, backoff(wsFailures));
  }

  async function trySse() {
    if (!opts.sseUrl) return sseFailed(generation);
    const gen = ++generation;
    const tok = await withToken(trySse);
    if (tok === null || gen !== generation) return;
    const es = new EventSource(opts.sseUrl(tok));
    let working = false;
    es.onopen = function () {
      if (gen !== generation) { es.close(); return; }
      working = true;
      live("sse");
    };
    for (const name of opts.sseEvents || []) {
      es.addEventListener(name, function (ev) {
        if (gen !== generation) { es.close(); return; }
        let data;
        try { data = JSON.parse(ev.data); } catch (e) { return; }
        opts.onEvent({ type: name, session_id: data.session_id, data: data });
      });
    }
    es.onerror = function () {
      es.close(); // reconnect ourselves: a fresh token, and the page's own last id
      if (gen !== generation) return;
      if (working) {
        reconnecting();
        later(trySse, backoff(0));
      } else {
        sseFailed(gen);
      }
    };
  }

  function sseFailed(gen) {
    if (gen !== generation) return;
    sseFailures++;
    if (probing || !opts.sseUrl || sseFailures >= SSE_FAILURES_BEFORE_POLLING) {
      probing = false;
      return startPolling();
    }
    reconnecting();
    later(trySse, backoff(sseFailures));
  }

  async function tick() {
    try {
      await opts.poll();
      if (pollTimer === null) return; // went live meanwhile
      if (kind !== "polling") {
        offlineSince = null;
        show("polling", POLLING, "poll");
      }
    } catch (e) {
      if (e instanceof SignedOut || pollTimer === null) return;
      wentOffline();
      show("unavailable", NO_ANSWER, "poll");
    }
    if (pollTimer !== null) pollTimer = window.setTimeout(tick, POLL_MS);
  }

  function probe() {
    wsFailures = 0;
    sseFailures = 0;
    probing = true;
    tryWs();
  }

  function startPolling() {
    if (pollTimer !== null) return; // already polling (a probe failed)
    offlineSince = null;
    show("polling", POLLING, "poll");
    pollTimer = window.setTimeout(tick, 0);
    probeTimer = window.setInterval(probe, PROBE_MS);
  }

  function stopPolling() {
    if (pollTimer !== null) window.clearTimeout(pollTimer);
    if (probeTimer !== null) window.clearInterval(probeTimer);
    pollTimer = null;
    probeTimer = null;
  }

  function send(call) {
    if (socket === null || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(call));
    return true;
  }

  /** Try again at once: the next scheduled attempt now, a poll and a probe when polling, a
   *  ping when live (a socket that does not answer it is replaced). */
  function retryNow() {
    if (kind === "live") {
      if (socket !== null) socket.checkAlive();
      return;
    }
    if (pollTimer !== null) {
      window.clearTimeout(pollTimer);
      pollTimer = window.setTimeout(tick, 0);
      probe();
      return;
    }
    if (pending !== null) {
      window.clearTimeout(pending.timer);
      const fn = pending.fn;
      pending = null;
      fn();
    }
  }

  retryButton.addEventListener("click", retryNow);
  window.addEventListener("online", retryNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") retryNow();
  });
  show("connecting", "Connecting…", "");
  tryWs();
  return { send: send, retryNow: retryNow, kind: function () { return kind; }, describe: describe };
}
