// Times a human reads: the local clock (24-hour HH:MM, seconds when they matter), the local
// day, the age ("3 minutes ago"), all from the ISO UTC times the daemon sends; and one timer
// that keeps every age on the page current.

const REFRESH_MS = 15000;
const DAY_MS = 86400000;

const clockFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const clockSecFmt = new Intl.DateTimeFormat(undefined,
  { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const dateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const STEPS = [[45, 1, "second"], [45 * 60, 60, "minute"], [22 * 3600, 3600, "hour"], [26 * 86400, 86400, "day"],
  [320 * 86400, 30 * 86400, "month"]];

/** "2026-01-02T03:04:05.123456Z" -> ms since the epoch (milliseconds kept), NaN otherwise. */
export function parseIso(iso) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(iso || "");
  return m ? Date.parse(m[1] + (m[2] ? m[2].slice(0, 4) : "") + "Z") : NaN;
}

/** "14:02", or "14:02:31" with `seconds`, in the browser's time zone. */
export function clock(ms, seconds) {
  return (seconds ? clockSecFmt : clockFmt).format(ms);
}

/** The local calendar day of `ms`, as a sortable key. */
export function dayKey(ms) {
  const d = new Date(ms);
  return d.getFullYear() * 10000 + (d.getMonth() + 1) * 100 + d.getDate();
}

/** "Today", "Yesterday", or "Tuesday 3 March 2026" (the locale's words). */
export function dayLabel(ms, nowMs) {
  const key = dayKey(ms);
  if (key === dayKey(nowMs)) return "Today";
  if (key === dayKey(nowMs - DAY_MS)) return "Yesterday";
  return dayFmt.format(ms);
}

/** "just now", "3 minutes ago", "in 2 hours", then the date. */
export function relative(ms, nowMs) {
  const seconds = (ms - nowMs) / 1000;
  const size = Math.abs(seconds);
  if (size < 45) return "just now";
  for (const [limit, unit, name] of STEPS) {
    if (size < limit) return rtf.format(Math.round(seconds / unit), name);
  }
  return dateFmt.format(ms);
}

/** "Tuesday 3 March 2026, 14:02:31": a full local time, to the second. */
export function full(ms) {
  return dayFmt.format(ms) + ", " + clock(ms, true);
}

/** A short local date and time for tables: "14:02:31" today, else "3 Mar 2026, 14:02:31". */
export function stamp(ms, nowMs) {
  const time = clock(ms, true);
  return dayKey(ms) === dayKey(nowMs) ? "Today " + time : dateFmt.format(ms) + ", " + time;
}

/** The time zone the page shows times in, e.g. "Europe/Berlin". */
export function zone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
}

const refreshers = new Set();
let timer = null;

function refreshAll() {
  const now = Date.now();
  for (const fn of refreshers) fn(now);
}

/** Calls `fn(nowMs)` now, every REFRESH_MS, and whenever the page becomes visible again. */
export function keepFresh(fn) {
  refreshers.add(fn);
  fn(Date.now());
  if (timer === null) {
    timer = window.setInterval(refreshAll, REFRESH_MS);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") refreshAll();
    });
  }
}

/** One <time>: `data-rel` shows the age ("3 minutes ago"), otherwise (`data-local`) the local
 *  date and time ("Today 14:02:31"); the tooltip has the full local time, the age and the
 *  UTC original. */
export function showTime(el, nowMs) {
  const ms = parseIso(el.dateTime);
  if (Number.isNaN(ms)) return;
  const now = nowMs === undefined ? Date.now() : nowMs;
  const text = "rel" in el.dataset ? relative(ms, now) : stamp(ms, now);
  if (el.textContent !== text) el.textContent = text;
  el.title = full(ms) + " (" + relative(ms, now) + "; " + el.dateTime + ")";
}

/** Every <time data-local> and <time data-rel> under `root`, shown and kept current. */
export function localizeTimes(root) {
  const scope = root || document;
  keepFresh(function (now) {
    for (const el of scope.querySelectorAll("time[data-local], time[data-rel]")) showTime(el, now);
  });
}
