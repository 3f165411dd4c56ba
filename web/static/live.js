// Shared by the dashboard and the session page: the live connection (WebSocket first, then
// Server-Sent Events, then periodic refresh), the status indicator, JSON reads and writes with
// the CSRF header, and times. No innerHTML anywhere.
"use strict";
window.ScsdLive = (function () {
  const WS_FAILURES_BEFORE_SSE = 3;
  const SSE_FAILURES_BEFORE_POLLING = 3;
  const POLL_MS = 5000;
  const PROBE_MS = 60000; // while polling, try the real-time transports again this often
  const MAX_BACKOFF_MS = 30000;
  const TIMES_MS = 30000;
  const LIVE = "Real-time updates active";

  class SignedOut extends Error {}

  function backoff(attempt) {
    const base = Math.min(MAX_BACKOFF_MS, 500 * Math.pow(2, attempt));
    return base / 2 + Math.random() * base / 2; // exponential, with jitter
  }

  async function getJson(url, csrf) {
    const r = await fetch(url, {
      headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
      credentials: "same-origin", cache: "no-store",
    });
    if (r.status === 401) {
      window.location.assign("/ui/login");
      throw new SignedOut("signed out");
    }
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return r.json();
  }

  // A JSON POST with the CSRF header; resolves to the Response (the caller reads the status).
  function postJson(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin", cache: "no-store", body: JSON.stringify(body),
    });
  }

  // "2026-01-02T03:04:05.123456Z" -> ms since the epoch (milliseconds kept, which every
  // browser parses), NaN for anything else.
  function parseIso(iso) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(iso || "");
    return m ? Date.parse(m[1] + (m[2] ? m[2].slice(0, 4) : "") + "Z") : NaN;
  }

  // opts: csrf, wsPort, status (element), frames() -> the calls to send once the socket is
  // open, onEvent({type, data, ...}) for every event (WebSocket or SSE), sseUrl(token) -> the
  // SSE URL or null when the page has no SSE stream, sseEvents: the SSE event names to listen
  // to, poll() -> a promise that fetches what is new, onLive(transport) after each (re)connect,
  // onStatus(kind) whenever the status changes ("live", "reconnecting", "polling", ...).
  // Returns { send(call) }: sends a call over the working WebSocket, or returns false when
  // there is none (SSE, polling, reconnecting), for the caller to use HTTP instead.
  function connect(opts) {
    const status = opts.status;
    let generation = 0; // bumped by every attempt: callbacks of older attempts are ignored
    let wsFailures = 0;
    let sseFailures = 0;
    let unreachable = 0; // the daemon itself did not answer: retried, not a transport failure
    let probing = false; // a quiet attempt from polling mode
    let pollTimer = null;
    let probeTimer = null;
    let socket = null; // the WebSocket while it works, for send()

    function setStatus(kind, text, transport) {
      status.className = "status status-" + kind;
      status.textContent = text;
      status.dataset.transport = transport || "";
      if (opts.onStatus) opts.onStatus(kind);
    }

    function later(fn, ms) {
      const gen = generation;
      window.setTimeout(function () { if (gen === generation) fn(); }, ms);
    }

    function live(transport) {
      wsFailures = 0;
      sseFailures = 0;
      unreachable = 0;
      probing = false;
      stopPolling();
      setStatus("live", LIVE, transport);
      if (opts.onLive) opts.onLive(transport);
    }

    function reconnecting() {
      setStatus("reconnecting", "Reconnecting…", "");
    }

    // A token per attempt: it lives 10 minutes, and the page may stay open for days.
    async function withToken(retry) {
      try {
        return await getJson("/ui/api/token", opts.csrf).then(function (b) { return b.token; });
      } catch (e) {
        if (e instanceof SignedOut) return null;
        if (probing) { probing = false; return null; }
        unreachable++;
        reconnecting();
        later(retry, backoff(unreachable));
        return null;
      }
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
      ws.onopen = function () {
        for (const frame of opts.frames()) ws.send(JSON.stringify(frame));
      };
      ws.onmessage = function (ev) {
        if (gen !== generation) { ws.close(); return; }
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === "subscribed" && !working) {
          working = true;
          socket = ws;
          live("websocket");
        }
        opts.onEvent(msg);
      };
      ws.onclose = function () {
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
          if (gen !== generation) return;
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

    function startPolling() {
      if (pollTimer !== null) return; // already polling (a probe failed)
      setStatus("polling", "Real-time updates unavailable: refreshing every " + POLL_MS / 1000 + " s",
        "poll");
      const tick = async function () {
        try {
          await opts.poll();
          if (pollTimer === null) return; // went live meanwhile
          if (!status.classList.contains("status-polling")) {
            setStatus("polling", "Real-time updates unavailable: refreshing every " + POLL_MS / 1000 + " s",
              "poll");
          }
        } catch (e) {
          if (e instanceof SignedOut || pollTimer === null) return;
          setStatus("unavailable", "Real-time updates unavailable: the server does not answer", "poll");
        }
        if (pollTimer !== null) pollTimer = window.setTimeout(tick, POLL_MS);
      };
      pollTimer = window.setTimeout(tick, 0);
      probeTimer = window.setInterval(function () {
        wsFailures = 0;
        sseFailures = 0;
        probing = true;
        tryWs();
      }, PROBE_MS);
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

    setStatus("connecting", "Connecting…", "");
    tryWs();
    return { send: send };
  }

  // "3 min ago" and the like; the absolute ISO time stays in `datetime` and `title`.
  const rtf = new Intl.RelativeTimeFormat(document.documentElement.lang || "en", { numeric: "auto" });
  const STEPS = [[45, 1, "second"], [45 * 60, 60, "minute"], [22 * 3600, 3600, "hour"],
    [26 * 86400, 86400, "day"]];

  function relative(iso, nowMs) {
    const t = Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1"));
    if (Number.isNaN(t)) return String(iso);
    const seconds = (t - nowMs) / 1000;
    const size = Math.abs(seconds);
    if (size < 45) return "just now";
    for (const [limit, unit, name] of STEPS) {
      if (size < limit) return rtf.format(Math.round(seconds / unit), name);
    }
    return new Date(t).toISOString().slice(0, 10);
  }

  function timeElement(iso) {
    const time = document.createElement("time");
    time.dateTime = iso;
    time.title = iso;
    time.dataset.rel = "";
    time.textContent = relative(iso, Date.now());
    return time;
  }

  function refreshTimes() {
    const now = Date.now();
    for (const time of document.querySelectorAll("time[data-rel]")) {
      time.textContent = relative(time.dateTime, now);
    }
  }

  function keepTimesFresh() {
    refreshTimes();
    window.setInterval(refreshTimes, TIMES_MS);
  }

  return { connect, getJson, postJson, parseIso, relative, timeElement, keepTimesFresh, SignedOut };
})();
