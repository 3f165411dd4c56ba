// Boxes that scroll (wide code, long values) must be reachable by keyboard to be scrolled
// without a mouse: each that overflows gets tabindex="0", and loses it when it no longer does.

/** Re-checks `boxes` (elements, or a selector under document). */
export function focusableIfScrolling(boxes) {
  const list = typeof boxes === "string" ? document.querySelectorAll(boxes) : boxes;
  for (const box of list) {
    const scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
    if (scrolls) box.tabIndex = 0;
    else if (box.getAttribute("tabindex") === "0") box.removeAttribute("tabindex");
  }
}

/** Keeps the boxes matching `selector` right: now, on resize, and when a <details> opens. */
export function keepScrollablesFocusable(selector) {
  const check = function () { focusableIfScrolling(selector); };
  check();
  let timer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 200);
  });
  document.addEventListener("toggle", check, true); // <details> opening: "toggle" does not bubble
}
