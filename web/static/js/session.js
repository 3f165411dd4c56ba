// The session page, /ui/sessions/<id>: the message list (messages.js), who is composing and
// watching (presence.js), the composer (composer.js), all fed by the live connection
// (connection.js: WebSocket, SSE, or periodic refresh).

import { connect } from "./connection.js";
import { createComposer } from "./composer.js";
import { createList } from "./messages.js";
import { getJson } from "./net.js";
import { create as createPresence } from "./presence.js";

const root = document.getElementById("session");
if (root) start(root);

function start(root) {
  const sessionId = root.dataset.sessionId;
  const csrf = root.dataset.csrf;
  const presence = createPresence({
    sessionId: sessionId,
    me: root.dataset.me,
    meType: root.dataset.meType,
    serverNow: root.dataset.serverNow,
    csrf: csrf,
    typing: document.getElementById("typing"),
    watchers: document.getElementById("watchers"),
    watcherList: document.getElementById("watcher-list"),
  });
  const list = createList({
    list: document.getElementById("messages"),
    template: document.getElementById("message-template"),
    empty: document.getElementById("no-messages"),
    pill: document.getElementById("new-pill"),
    filters: document.getElementById("filters"),
    announcer: document.getElementById("announcer"),
    copyStatus: document.getElementById("copy-status"),
    me: root.dataset.me,
    meType: root.dataset.meType,
    onArrival: function (m) { presence.messageFrom(m.sender); },
  });

  function accept(m) {
    if (m && m.session_id === sessionId) list.accept(m);
  }

  async function poll() {
    for (;;) {
      const page = await getJson("/ui/api/sessions/" + encodeURIComponent(sessionId) +
        "/messages?since_id=" + list.lastId(), csrf);
      page.messages.forEach(accept);
      if (!page.more) return;
    }
  }

  const connection = connect({
    csrf: csrf,
    wsPort: root.dataset.wsPort,
    box: document.getElementById("connection"),
    frames: function () {
      return [{ tool: "subscribe", arguments: { session_id: sessionId, since_id: list.lastId() }, id: "sub" }];
    },
    onEvent: function (ev) {
      if (ev.type === "new_message") accept(ev.data);
      else presence.onEvent(ev);
    },
    onStatus: presence.onStatus,
    sseUrl: function (token) {
      return "/ui/sessions/" + encodeURIComponent(sessionId) + "/events?token=" +
        encodeURIComponent(token) + "&since_id=" + list.lastId();
    },
    sseEvents: ["new_message", "typing", "presence"],
    poll: poll,
    lastActivity: list.newest,
    activity: "last message",
  });
  presence.attach(connection);

  const form = document.getElementById("post-form");
  if (form) {
    const textarea = document.getElementById("content");
    presence.compose(textarea, form);
    createComposer({
      form: form,
      textarea: textarea,
      visibility: document.getElementById("visibility"),
      button: document.getElementById("post"),
      error: document.getElementById("post-error"),
      sessionId: sessionId,
      csrf: csrf,
      // Live, the message comes back over the stream; when polling, fetch it now.
      posted: function () {
        if (connection.kind() !== "live") poll().catch(function () { /* the next poll brings it */ });
      },
    });
  }
}
