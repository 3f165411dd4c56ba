// Copy buttons on the client set-up page: the clipboard if the browser allows it, else the
// text is selected so that Ctrl+C / Cmd+C (or the phone's copy menu) takes it.

import { copyWithButton } from "./copy.js";

const status = document.getElementById("copy-status");
for (const button of document.querySelectorAll("button.copy[data-copy]")) {
  button.addEventListener("click", async function () {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const done = await copyWithButton(button, source.textContent, source, status);
    if (!done) source.focus();
  });
}
