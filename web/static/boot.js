// Runs before the first paint (a classic script in <head>, not a module, so it does not wait
// for the page): the saved theme choice, and the "js" class the CSS uses to tell a page whose
// scripts run from one without (no globals, nothing else).
"use strict";
(function () {
  const root = document.documentElement;
  root.classList.add("js");
  let theme = null;
  try { theme = window.localStorage.getItem("scsd-theme"); } catch (e) { /* storage blocked */ }
  if (theme === "light" || theme === "dark") root.dataset.theme = theme;
})();
