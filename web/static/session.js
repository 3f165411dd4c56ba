// Live updates for /ui/sessions/<id>: WebSocket first, SSE after repeated failures.
// No innerHTML: every piece of user data goes in with textContent.
"use strict";
(function () {
  const root = document.getElementById("session");
  if (!root) return;
  const sessionId = root.dataset.sessionId;
  const wsPort = root.dataset.wsPort;
  const csrf = root.dataset.csrf;
  let lastId = Number(root.dataset.lastId) || 0;
  const list = document.getElementById("messages");
  const empty = document.getElementById("no-messages");
  const status = document.getElementById("live-status");
  const WS_FAILURES_BEFORE_SSE = 3;
  const SSE_FAILURES_BEFORE_GIVING_UP = 3;
  let wsFailures = 0;
  let sseFailures = 0;

  function setStatus(kind, text) {
    status.className = "status status-" + kind;
    status.textContent = text;
  }

  function backoff(attempt) {
    const base = Math.min(30000, 500 * Math.pow(2, attempt));
    return base / 2 + Math.random() * base / 2; // exponential, with jitter
  }

  function span(cls, text) {
    const el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function append(m) {
    if (typeof m.id !== "number" || m.id <= lastId || m.session_id !== sessionId) return;
    lastId = m.id;
    const li = document.createElement("li");
    li.className = "message fresh";
    li.dataset.id = String(m.id);
    const head = document.createElement("div");
    head.className = "message-head";
    head.append(span("sender", m.sender), span("sender-type", m.sender_type),
      span("message-type", m.message_type), span("badge badge-" + m.visibility, m.visibility));
    const time = document.createElement("time");
    time.dateTime = m.timestamp;
    time.textContent = m.timestamp;
    head.append(time);
    const content = document.createElement("div");
    content.className = "content";
    content.textContent = m.content;
    li.append(head, content);
    const nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
    list.append(li);
    empty.hidden = true;
    if (nearBottom) li.scrollIntoView({ block: "end" });
  }

  async function token() {
    const r = await fetch("/ui/api/token", {
      headers: { "X-CSRF-Token": csrf }, credentials: "same-origin", cache: "no-store",
    });
    if (r.status === 401) { window.location.assign("/ui/login"); throw new Error("signed out"); }
    if (!r.ok) throw new Error("token: HTTP " + r.status);
    return (await r.json()).token;
  }

  function retry(fn, attempt) {
    setStatus("reconnecting", "Reconnecting…");
    window.setTimeout(fn, backoff(attempt));
  }

  async function connectWs() {
    let tok;
    try { tok = await token(); } catch (e) { wsFailures++; return retry(connectWs, wsFailures); }
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = proto + "//" + window.location.hostname + ":" + wsPort + "/ws?token=" + encodeURIComponent(tok);
    let ws;
    try { ws = new WebSocket(url); } catch (e) { return wsFailed(); }
    let subscribed = false;
    ws.onopen = function () {
      ws.send(JSON.stringify({ tool: "subscribe", arguments: { session_id: sessionId, since_id: lastId }, id: "sub" }));
    };
    ws.onmessage = function (ev) {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "subscribed") {
        subscribed = true;
        wsFailures = 0;
        setStatus("live", "Real-time updates active");
      } else if (msg.type === "new_message") {
        append(msg.data);
      }
    };
    ws.onclose = function () {
      if (!subscribed) return wsFailed();
      retry(connectWs, 0); // it was working: reconnect, resuming from lastId
    };
  }

  function wsFailed() {
    wsFailures++;
    if (wsFailures >= WS_FAILURES_BEFORE_SSE) return connectSse();
    retry(connectWs, wsFailures);
  }

  async function connectSse() {
    let tok;
    try { tok = await token(); } catch (e) { return sseFailed(); }
    const url = "/ui/sessions/" + encodeURIComponent(sessionId) + "/events?token=" +
      encodeURIComponent(tok) + "&since_id=" + lastId;
    const es = new EventSource(url);
    es.onopen = function () {
      sseFailures = 0;
      setStatus("live", "Real-time updates active");
    };
    es.addEventListener("new_message", function (ev) {
      try { append(JSON.parse(ev.data)); } catch (e) { /* ignore a bad event */ }
    });
    es.onerror = function () {
      es.close(); // reconnect ourselves: a fresh token and since_id = lastId
      sseFailed();
    };
  }

  function sseFailed() {
    sseFailures++;
    if (sseFailures >= SSE_FAILURES_BEFORE_GIVING_UP) {
      setStatus("unavailable", "Real-time updates unavailable");
      // Try the WebSocket again from the top, every minute.
      window.setTimeout(function () { wsFailures = 0; sseFailures = 0; connectWs(); }, 60000);
      return;
    }
    retry(connectSse, sseFailures);
  }

  connectWs();
})();
