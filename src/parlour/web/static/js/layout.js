// The narrow layout: the sidebar as a drawer, and on phones the persona and model
// pickers folded into one compact control in the header.
const $ = (id) => document.getElementById(id);

export function openSidebar() {
  $("app").classList.add("sidebar-open");
  $("backdrop").hidden = false;
  $("open-sidebar").setAttribute("aria-expanded", "true");
  $("new-chat").focus();
}

/** Close the drawer; false when it was not open. */
export function closeSidebar() {
  if (!$("app").classList.contains("sidebar-open")) return false;
  $("app").classList.remove("sidebar-open");
  $("backdrop").hidden = true;
  $("open-sidebar").setAttribute("aria-expanded", "false");
  $("open-sidebar").focus();
  return true;
}

/** Open or close the pickers' panel (phones only; elsewhere they are always shown). */
export function togglePickers(open = !$("pickers").classList.contains("open")) {
  const was = $("pickers").classList.contains("open");
  $("pickers").classList.toggle("open", open);
  $("pickers-toggle").setAttribute("aria-expanded", String(open));
  if (open) $("persona-select").focus();
  else if (was && $("pickers").contains(document.activeElement)) $("pickers-toggle").focus();
  return was !== open;
}

export function setupLayout() {
  $("open-sidebar").addEventListener("click", openSidebar);
  $("close-sidebar").addEventListener("click", closeSidebar);
  $("backdrop").addEventListener("click", closeSidebar);
  $("pickers-toggle").addEventListener("click", () => togglePickers());
  for (const select of [$("persona-select"), $("model-select")]) {
    select.addEventListener("change", () => togglePickers(false));
  }
  document.addEventListener("click", (event) => {
    if (!event.target.closest("#pickers, #pickers-toggle")) togglePickers(false);
  });
}
