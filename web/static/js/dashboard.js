// The dashboard, /ui/: sessions appear and move up live (the WebSocket's "*" feed of
// session_update events, or the same over SSE from /ui/events), with counts and participants
// from /ui/api/sessions/<id>/summary, copy buttons for session ids, and ages that stay
// current (the local time in their tooltips). No innerHTML: user data goes in as text.

import { connect } from "./connection.js";
import { copyText } from "./copy.js";
import { getJson, SignedOut } from "./net.js";
import { parseIso, showTime } from "./times.js";

const root = document.getElementById("dashboard");
if (root) start(root);

function start(root) {
  const csrf = root.dataset.csrf;
  const table = document.getElementById("sessions");
  const tbody = table.tBodies[0];
  const empty = document.getElementById("no-sessions");
  const copyStatus = document.getElementById("copy-status");
  const SHOWN_PARTICIPANTS = 5;
  const SUMMARY_GAP_MS = 1000; // at most one summary per session per second, however busy
  const COPIED_MS = 2000;

  const rows = new Map(); // session id -> <tr>
  for (const tr of tbody.rows) rows.set(tr.dataset.sessionId, tr);
  let newest = ""; // the latest updated_at seen: ISO strings of one format sort as times
  for (const tr of rows.values()) if (tr.dataset.updatedAt > newest) newest = tr.dataset.updatedAt;

  function cell(cls, label) {
    const td = document.createElement("td");
    td.className = cls;
    td.dataset.label = label;
    return td;
  }

  function newRow(id) {
    const tr = document.createElement("tr");
    tr.id = "row-" + id;
    tr.dataset.sessionId = id;
    const purpose = cell("purpose", "Purpose");
    const a = document.createElement("a");
    a.href = "/ui/sessions/" + encodeURIComponent(id);
    purpose.append(a);
    const session = cell("session", "Session");
    const code = document.createElement("code");
    code.className = "sid";
    code.textContent = id;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy";
    copy.dataset.copy = id;
    copy.setAttribute("aria-label", "Copy session id " + id);
    copy.textContent = "Copy";
    session.append(code, " ", copy);
    const count = cell("count", "Messages");
    count.textContent = "0";
    const activity = cell("activity", "Last activity");
    tr.append(purpose, session, count, cell("participants", "Participants"), activity);
    rows.set(id, tr);
    return tr;
  }

  // Keep the rows in order of last activity, newest first.
  function place(tr) {
    const at = tr.dataset.updatedAt;
    let before = null;
    for (const other of tbody.rows) {
      if (other !== tr && other.dataset.updatedAt <= at) { before = other; break; }
    }
    if (tr.nextElementSibling !== before || tr.parentNode !== tbody) tbody.insertBefore(tr, before);
  }

  function flash(tr) {
    tr.classList.remove("fresh");
    void tr.offsetWidth; // restart the fade-in
    tr.classList.add("fresh");
  }

  // Purpose and last activity from a session object (event or summary); counts if it has them.
  function update(s) {
    if (typeof s.id !== "string") return null;
    let tr = rows.get(s.id);
    const created = tr === undefined;
    if (created) tr = newRow(s.id);
    const changed = created || s.updated_at !== tr.dataset.updatedAt;
    tr.dataset.updatedAt = s.updated_at;
    tr.querySelector(".purpose a").textContent = s.purpose || "(no purpose)";
    const time = document.createElement("time");
    time.dateTime = s.updated_at;
    time.dataset.rel = "";
    tr.querySelector(".activity").replaceChildren(time);
    showTime(time);
    if (typeof s.message_count === "number") tr.querySelector(".count").textContent = String(s.message_count);
    if (Array.isArray(s.participants)) {
      const td = tr.querySelector(".participants");
      const names = s.participants.map(String);
      const total = typeof s.participants_total === "number" ? s.participants_total : names.length;
      let text = names.slice(0, SHOWN_PARTICIPANTS).join(", ");
      if (total > SHOWN_PARTICIPANTS) text += " +" + (total - SHOWN_PARTICIPANTS) + " more";
      td.textContent = text;
      td.title = names.join(", ") + (total > names.length ? " and " + (total - names.length) + " more" : "");
    }
    if (s.updated_at > newest) newest = s.updated_at;
    if (changed) {
      place(tr);
      flash(tr);
    }
    table.hidden = false;
    empty.hidden = true;
    return tr;
  }

  // One summary request per session at a time; updates meanwhile ask for one more after it.
  const pending = new Map(); // session id -> "running" | "again"
  async function refreshSummary(id) {
    if (pending.has(id)) { pending.set(id, "again"); return; }
    pending.set(id, "running");
    try {
      for (;;) {
        try {
          update(await getJson("/ui/api/sessions/" + encodeURIComponent(id) + "/summary", csrf));
        } catch (e) {
          if (e instanceof SignedOut) return;
        }
        if (pending.get(id) !== "again") return;
        pending.set(id, "running");
        await new Promise((resolve) => window.setTimeout(resolve, SUMMARY_GAP_MS));
      }
    } finally {
      pending.delete(id);
    }
  }

  // What changed while we were not listening (after a reconnect), or every poll.
  async function catchUp() {
    const query = newest ? "?updated_after=" + encodeURIComponent(newest) : "";
    const body = await getJson("/ui/api/sessions" + query, csrf);
    for (const s of body.sessions.slice().reverse()) update(s);
  }

  async function copy(button) {
    const text = button.dataset.copy;
    const code = button.parentElement.querySelector("code");
    let done = await copyText(text, code);
    if (!done) { // selected: the old command may still copy it
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
    }
    const said = done ? "Copied" : "Selected: press Ctrl+C";
    button.textContent = done ? "Copied" : "Selected";
    copyStatus.textContent = said + " " + text;
    window.setTimeout(function () { button.textContent = "Copy"; }, COPIED_MS);
  }

  table.addEventListener("click", function (ev) {
    const button = ev.target.closest("button.copy");
    if (button) copy(button);
  });

  connect({
    csrf: csrf,
    wsPort: root.dataset.wsPort,
    box: document.getElementById("connection"),
    frames: function () { return [{ tool: "subscribe", arguments: { session_id: "*" }, id: "all" }]; },
    onEvent: function (ev) {
      if (ev.type !== "session_update" || !ev.data) return;
      update(ev.data);
      if (typeof ev.data.message_count !== "number") refreshSummary(ev.data.id);
    },
    sseUrl: function (token) { return "/ui/events?token=" + encodeURIComponent(token); },
    sseEvents: ["session_update"],
    poll: catchUp,
    onLive: function () { catchUp().catch(function () { /* the live feed goes on */ }); },
    lastActivity: function () { return parseIso(newest); },
    activity: "last activity",
  });
}
