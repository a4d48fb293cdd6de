// The conversation sidebar: collapses to a toggle on narrow screens.
import "./forms.js";

const shell = document.getElementById("shell");
const toggle = document.querySelector("[data-sidebar-toggle]");
if (shell && toggle) {
  const set = (open) => {
    shell.dataset.sidebar = open ? "open" : "closed";
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.addEventListener("click", () => set(shell.dataset.sidebar !== "open"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && shell.dataset.sidebar === "open") { set(false); toggle.focus(); }
  });
}
