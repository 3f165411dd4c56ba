// The session page, /ui/sessions/<id>: Markdown for every message, visibility filters, smart
// auto-scroll with an "N new" pill, and new messages from ScsdLive (WebSocket, SSE, or
// periodic refresh) appended in one animation frame; who is composing and watching comes from
// ScsdPresence. No innerHTML: user data goes in as text.
"use strict";
(function () {
  const root = document.getElementById("session");
  if (!root) return;
  const Live = window.ScsdLive;
  const Markdown = window.ScsdMarkdown;
  const sessionId = root.dataset.sessionId;
  const csrf = root.dataset.csrf;
  const list = document.getElementById("messages");
  const empty = document.getElementById("no-messages");
  const pill = document.getElementById("new-pill");
  const filters = document.getElementById("filters");
  const VISIBILITIES = ["public", "private", "agent_only", "admin_only"];
  const FOLLOW_SLACK_PX = 48; // this close to the bottom counts as "at the bottom"
  const presence = window.ScsdPresence.create({
    sessionId: sessionId,
    me: root.dataset.me,
    meType: root.dataset.meType,
    serverNow: root.dataset.serverNow,
    csrf: csrf,
    typing: document.getElementById("typing"),
    watchers: document.getElementById("watchers"),
    watcherList: document.getElementById("watcher-list"),
  });

  let lastId = Number(root.dataset.lastId) || 0;
  const seen = new Set(); // ids shown or queued: each message appears once
  let queue = [];
  let frameRequested = false;
  let unseen = 0;

  function span(cls, text) {
    const node = document.createElement("span");
    node.className = cls;
    node.textContent = text;
    return node;
  }

  function renderContent(node) {
    node.replaceChildren(Markdown.render(node.textContent));
    node.classList.add("md");
  }

  // A "reply to #N" link that jumps to its parent; inert when the parent is not on the page.
  function wireReply(a) {
    const parent = document.getElementById("m-" + a.dataset.parent);
    if (parent === null) {
      a.classList.add("absent");
      a.title = "Not on this page: older than the page, or not visible to you";
    }
  }

  function buildMessage(m) {
    const visibility = VISIBILITIES.includes(m.visibility) ? m.visibility : "other";
    const li = document.createElement("li");
    li.className = "message fresh vis-" + visibility;
    li.id = "m-" + m.id;
    li.dataset.id = String(m.id);
    const head = document.createElement("div");
    head.className = "message-head";
    head.append(span("sender", m.sender), span("sender-type", m.sender_type),
      span("message-type", m.message_type), span("badge badge-" + visibility, m.visibility),
      Live.timeElement(m.timestamp));
    const permalink = document.createElement("a");
    permalink.className = "permalink";
    permalink.href = "#m-" + m.id;
    permalink.textContent = "#" + m.id;
    permalink.tabIndex = -1; // one tab stop per message would bury the post form in long sessions
    head.append(permalink);
    if (typeof m.parent_message_id === "number") {
      const reply = document.createElement("a");
      reply.className = "reply-to";
      reply.href = "#m-" + m.parent_message_id;
      reply.dataset.parent = String(m.parent_message_id);
      reply.textContent = "↩ reply to #" + m.parent_message_id;
      head.append(reply);
    }
    const content = document.createElement("div");
    content.className = "content";
    content.textContent = String(m.content);
    renderContent(content);
    li.append(head, content);
    return li;
  }

  function hiddenByFilter(li) {
    return [...li.classList].some((c) => c.startsWith("vis-") && list.classList.contains("hide-" + c.slice(4)));
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

  function accept(m) {
    if (!m || typeof m.id !== "number" || m.session_id !== sessionId || seen.has(m.id)) return;
    seen.add(m.id);
    lastId = Math.max(lastId, m.id);
    presence.messageFrom(m.sender);
    queue.push(m);
    if (!frameRequested) {
      frameRequested = true;
      window.requestAnimationFrame(flush);
    }
  }

  // One DOM update per frame, however many messages arrived since the last one.
  function flush() {
    frameRequested = false;
    const batch = queue.sort((a, b) => a.id - b.id);
    queue = [];
    const follow = atBottom();
    const toEnd = pageAtEnd();
    const fragment = document.createDocumentFragment();
    let visible = 0;
    const built = batch.map(buildMessage);
    for (const li of built) fragment.append(li);
    const lastShown = list.lastElementChild;
    if (lastShown === null || Number(lastShown.dataset.id) < batch[0].id) {
      list.append(fragment);
    } else { // never expected (ids only grow), but keep id order if it happens
      for (const li of built) {
        const after = [...list.children].find((x) => Number(x.dataset.id) > Number(li.dataset.id));
        list.insertBefore(li, after || null);
      }
    }
    for (const li of built) {
      const reply = li.querySelector(".reply-to");
      if (reply) wireReply(reply);
      if (!hiddenByFilter(li)) visible++;
    }
    empty.hidden = list.children.length > 0;
    if (follow) {
      if (toEnd) window.scrollTo(0, document.scrollingElement.scrollHeight);
      else list.lastElementChild.scrollIntoView({ block: "nearest" });
    } else if (visible > 0) {
      unseen += visible;
      showUnseen();
    }
  }

  function jumpToNewest() {
    const shown = [...list.children].filter((li) => !hiddenByFilter(li));
    const newest = shown[shown.length - 1];
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

  if (filters) {
    filters.hidden = false; // without this script they could not work, so they stay hidden
    filters.addEventListener("change", function (ev) {
      const box = ev.target;
      if (box.type !== "checkbox") return;
      list.classList.toggle("hide-" + box.value, !box.checked);
    });
    for (const box of filters.querySelectorAll("input[type=checkbox]")) {
      list.classList.toggle("hide-" + box.value, !box.checked); // a reload may keep them unticked
    }
  }

  for (const li of list.querySelectorAll("li.message")) {
    seen.add(Number(li.dataset.id));
    renderContent(li.querySelector(".content"));
  }
  for (const a of list.querySelectorAll(".reply-to")) wireReply(a);
  list.addEventListener("click", function (ev) {
    const a = ev.target.closest(".reply-to.absent");
    if (a) ev.preventDefault();
  });
  Live.keepTimesFresh();

  async function poll() {
    for (;;) {
      const page = await Live.getJson("/ui/api/sessions/" + encodeURIComponent(sessionId) +
        "/messages?since_id=" + lastId, csrf);
      page.messages.forEach(accept);
      if (!page.more) return;
    }
  }

  const form = document.getElementById("post-form");
  if (form) presence.compose(document.getElementById("content"), form);

  const connection = Live.connect({
    csrf: csrf,
    wsPort: root.dataset.wsPort,
    status: document.getElementById("live-status"),
    frames: function () {
      return [{ tool: "subscribe", arguments: { session_id: sessionId, since_id: lastId }, id: "sub" }];
    },
    onEvent: function (ev) {
      if (ev.type === "new_message") accept(ev.data);
      else presence.onEvent(ev);
    },
    onStatus: presence.onStatus,
    sseUrl: function (token) {
      return "/ui/sessions/" + encodeURIComponent(sessionId) + "/events?token=" +
        encodeURIComponent(token) + "&since_id=" + lastId;
    },
    sseEvents: ["new_message", "typing", "presence"],
    poll: poll,
  });
  presence.attach(connection);
})();
