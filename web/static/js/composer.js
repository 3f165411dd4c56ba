// The composer: posts without reloading the page (the message then arrives once, through the
// live stream, like everyone else's), Ctrl+Enter or Cmd+Enter posts, and the draft is kept in
// the browser (localStorage, per session) until it is posted, through reconnects and reloads.
// Without this script the form still posts the classic way.

import { postJson, Unreachable } from "./net.js";

const DRAFT_PREFIX = "scsd-draft:";

function storage() {
  try { return window.localStorage; } catch (e) { return null; } // blocked: no drafts kept
}

/**
 * opts: form, textarea, visibility (the <select>), button, error (a role=alert element),
 * sessionId, csrf, posted(messageId) after a successful post.
 */
export function createComposer(opts) {
  const { form, textarea, button, error } = opts;
  const key = DRAFT_PREFIX + opts.sessionId;
  const store = storage();
  let posting = false;

  if (store !== null && textarea.value === "") {
    const draft = store.getItem(key);
    if (draft) textarea.value = draft;
  }

  function keep() {
    if (store === null) return;
    try {
      if (textarea.value === "") store.removeItem(key);
      else store.setItem(key, textarea.value);
    } catch (e) { /* quota: the draft is still in the text area */ }
  }

  function say(text) {
    error.textContent = text;
    error.hidden = text === "";
  }

  form.noValidate = true; // "Write something first." in our alert, rather than the browser's bubble
  textarea.addEventListener("input", keep);
  textarea.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    if (posting) return;
    const content = textarea.value;
    if (content.trim() === "") {
      say("Write something first.");
      textarea.focus();
      return;
    }
    posting = true;
    form.setAttribute("aria-busy", "true");
    button.textContent = "Posting…";
    try {
      const r = await postJson("/ui/api/sessions/" + encodeURIComponent(opts.sessionId) + "/messages",
        opts.csrf, { content: content, visibility: opts.visibility.value });
      let body = {};
      try { body = await r.json(); } catch (e) { /* not JSON: a proxy's page */ }
      if (r.ok) {
        if (textarea.value === content) textarea.value = "";
        keep();
        say("");
        if (opts.posted) opts.posted(body.message_id);
      } else if (r.status === 401) {
        say("Not posted: you are signed out. Your text is kept here; sign in again in another tab, then post.");
      } else {
        say("Not posted: " + (body.error || "HTTP " + r.status) + " Your text is kept.");
      }
    } catch (e) {
      if (!(e instanceof Unreachable)) throw e;
      say("Not posted: the server does not answer. Your text is kept; post again once it is back.");
    } finally {
      posting = false;
      form.removeAttribute("aria-busy");
      button.textContent = "Post";
    }
  });
}
