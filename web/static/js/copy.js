// Copy to the clipboard, or where the browser refuses (no secure context, no permission)
// select the text so that Ctrl+C / Cmd+C (or a phone's copy menu) takes it.

/** Copies `text`; on refusal selects `node`. Resolves to true when it was copied. */
export async function copyText(text, node) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) { /* refused: select instead */ }
  }
  if (node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  return false;
}

const COPIED_MS = 2000;

/** The usual button behaviour: "Copied" (or "Selected") for a moment, said in `status`. */
export async function copyWithButton(button, text, node, status) {
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  const done = await copyText(text, node);
  button.textContent = done ? "Copied" : "Selected";
  button.classList.toggle("copied", done);
  if (status) status.textContent = done ? "Copied to the clipboard." : "Selected: press Ctrl+C (Cmd+C on a Mac) to copy.";
  window.setTimeout(function () {
    button.textContent = label;
    button.classList.remove("copied");
  }, COPIED_MS);
  return done;
}
