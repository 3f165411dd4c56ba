// The theme toggle: follow the system (the default), or always light, or always dark; the
// choice is kept in localStorage and applied before the first paint by boot.js.

const KEY = "scsd-theme";
const ORDER = ["system", "light", "dark"];
const LABEL = { system: "Theme: system", light: "Theme: light", dark: "Theme: dark" };

function saved() {
  try {
    const value = window.localStorage.getItem(KEY);
    return ORDER.includes(value) ? value : "system";
  } catch (e) {
    return "system";
  }
}

function apply(choice) {
  const root = document.documentElement;
  if (choice === "system") delete root.dataset.theme;
  else root.dataset.theme = choice;
  try {
    if (choice === "system") window.localStorage.removeItem(KEY);
    else window.localStorage.setItem(KEY, choice);
  } catch (e) { /* not kept: still applied to this page */ }
}

/** Wires `button` to cycle system → light → dark. */
export function themeToggle(button) {
  let choice = saved();
  function label() {
    button.textContent = LABEL[choice];
    button.dataset.choice = choice;
    button.setAttribute("aria-label", LABEL[choice] + " (change)");
  }
  button.addEventListener("click", function () {
    choice = ORDER[(ORDER.indexOf(choice) + 1) % ORDER.length];
    apply(choice);
    label();
  });
  label();
  button.hidden = false;
}
