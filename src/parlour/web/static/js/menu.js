// A small pop-up menu of actions under a button: arrow keys move, Escape or a click
// elsewhere closes it and gives focus back to the button.
let current = null;

export function closeMenu({ refocus = false } = {}) {
  if (!current) return;
  const { menu, anchor } = current;
  current = null;
  menu.remove();
  anchor.setAttribute("aria-expanded", "false");
  if (refocus) anchor.focus();
}

/** items: [{ label, run }]. */
export function showMenu(anchor, items) {
  closeMenu();
  const menu = document.createElement("div");
  menu.className = "menu";
  menu.setAttribute("role", "menu");
  for (const item of items) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "menu-item";
    button.setAttribute("role", "menuitem");
    button.textContent = item.label;
    if (item.action) button.dataset.menu = item.action;
    button.addEventListener("click", () => {
      closeMenu({ refocus: true });
      item.run();
    });
    menu.append(button);
  }
  menu.addEventListener("keydown", (event) => {
    const buttons = [...menu.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeMenu({ refocus: true });
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      buttons[(at + step + buttons.length) % buttons.length].focus();
    }
  });
  document.body.append(menu);
  const box = anchor.getBoundingClientRect();
  const top = Math.min(box.bottom + 4, window.innerHeight - menu.offsetHeight - 8);
  menu.style.top = `${Math.max(8, top)}px`;
  menu.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - menu.offsetWidth - 8))}px`;
  anchor.setAttribute("aria-expanded", "true");
  current = { menu, anchor };
  menu.querySelector("button")?.focus();
}

document.addEventListener("pointerdown", (event) => {
  if (current && !current.menu.contains(event.target) && event.target !== current.anchor) closeMenu();
});
