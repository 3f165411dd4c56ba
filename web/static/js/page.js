// On every page: the theme toggle, the phone layout's menu button, scrolling boxes the
// keyboard can reach, and local times for the
// every <time data-local> / <time data-rel> (audit, memory, dashboard, session).

import { keepScrollablesFocusable } from "./scroll.js";
import { localizeTimes } from "./times.js";
import { themeToggle } from "./theme.js";

const toggle = document.getElementById("theme-toggle");
if (toggle) themeToggle(toggle);

const menuButton = document.getElementById("menu-toggle");
const menu = document.getElementById("site-menu");
if (menuButton && menu) {
  menuButton.hidden = false;
  menuButton.addEventListener("click", function () {
    const open = menuButton.getAttribute("aria-expanded") !== "true";
    menuButton.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && menu.classList.contains("open")) {
      menuButton.setAttribute("aria-expanded", "false");
      menu.classList.remove("open");
      menuButton.focus();
    }
  });
}

localizeTimes(document); // live pages add <time>s later: each refresh looks them up again
keepScrollablesFocusable("pre.value, #health-report"); // the configs' <pre> are focusable already
