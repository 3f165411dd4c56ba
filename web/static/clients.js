// Copy buttons on the client set-up page: the clipboard if the browser allows it, else the
// text is selected so that Ctrl+C / Cmd+C (or the phone's copy menu) takes it.
"use strict";
(function () {
  const status = document.getElementById("copy-status");

  function say(text) {
    if (status) status.textContent = text;
  }

  function select(el) {
    const range = document.createRange();
    range.selectNodeContents(el);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    el.focus();
    say("Selected: press Ctrl+C (Cmd+C on a Mac) to copy.");
  }

  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      const text = source.textContent;
      if (!navigator.clipboard || !window.isSecureContext) {
        select(source);
        return;
      }
      navigator.clipboard.writeText(text).then(
        function () {
          say("Copied to the clipboard.");
          button.classList.add("copied");
          setTimeout(function () { button.classList.remove("copied"); }, 1500);
        },
        function () { select(source); }
      );
    });
  });
})();
