// Live TTL countdowns on the memory pages: each <time data-expires-at="ISO"> reads
// "expires in 4m 12s" (the two largest units, as the server renders it), then "expired".
// Corrected for the browser's clock being off from the daemon's (data-server-now).
// The tooltip says when, in local time.

import { full, parseIso } from "./times.js";

const items = Array.from(document.querySelectorAll("time[data-expires-at]"));
if (items.length > 0) start();

function start() {
  function countdown(secondsLeft) {
    const seconds = Math.ceil(secondsLeft);
    if (!(seconds > 0)) return "expired";
    const parts = [
      [Math.floor(seconds / 86400), "d"],
      [Math.floor(seconds % 86400 / 3600), "h"],
      [Math.floor(seconds % 3600 / 60), "m"],
      [seconds % 60, "s"],
    ];
    const first = parts.findIndex(function (p) { return p[0] > 0; });
    return "expires in " + parts.slice(first, first + 2).map(function (p) { return p[0] + p[1]; }).join(" ");
  }

  const holder = document.querySelector("[data-server-now]");
  const serverNow = holder ? parseIso(holder.dataset.serverNow) : NaN;
  const skew = isNaN(serverNow) ? 0 : serverNow - Date.now();
  const deadlines = items.map(function (el) { return parseIso(el.dataset.expiresAt); });

  function tick() {
    const now = Date.now() + skew;
    let live = 0;
    items.forEach(function (el, i) {
      if (isNaN(deadlines[i])) return;
      const text = countdown((deadlines[i] - now) / 1000);
      if (el.textContent !== text) el.textContent = text;
      const expired = text === "expired";
      el.classList.toggle("expired", expired);
      if (!expired) live += 1;
    });
    if (live === 0) clearInterval(timer);
  }

  items.forEach(function (el, i) {
    if (!isNaN(deadlines[i])) el.title = "Expires " + full(deadlines[i] - skew) + " (" + el.dataset.expiresAt + ")";
  });
  const timer = setInterval(tick, 1000);
  tick();
}
