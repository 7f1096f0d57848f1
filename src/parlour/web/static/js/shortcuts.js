// Keyboard shortcuts, and the help dialog that lists them (opened with "?").
import { t } from "./i18n.js";

const mac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
const MOD = mac ? "⌘" : "Ctrl";

// [keys shown, what they do]; `match` says whether a keydown is this shortcut.
const SHORTCUTS = [
  { keys: [MOD, "Shift", "O"], label: "keyNewChat", action: "newChat",
    match: (e) => (e.ctrlKey || e.metaKey) && e.shiftKey && e.code === "KeyO" },
  // Handled by search.js (the palette); listed here.
  { keys: [MOD, "K"], label: "keySearch" },
  { keys: ["Shift", "Esc"], label: "keyFocus", action: "focusInput",
    match: (e) => e.shiftKey && e.key === "Escape" },
  { keys: ["Esc"], label: "keyStop", action: "stop",
    match: (e) => e.key === "Escape" && !e.shiftKey },
  { keys: ["?"], label: "keyHelp", action: "help",
    match: (e) => e.key === "?" && !e.ctrlKey && !e.metaKey && !typing(e.target) },
  { keys: ["Enter"], label: "keySend" },
  { keys: ["Shift", "Enter"], label: "keyNewLine" },
];

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

/** Fill the help dialog's list in the page's language. */
export function fillHelp(list) {
  const rows = SHORTCUTS.flatMap(({ keys, label }) => {
    const dt = document.createElement("dt");
    for (const [i, key] of keys.entries()) {
      if (i) dt.append(" + ");
      const kbd = document.createElement("kbd");
      kbd.textContent = key;
      dt.append(kbd);
    }
    const dd = document.createElement("dd");
    dd.textContent = t(label);
    return [dt, dd];
  });
  list.replaceChildren(...rows);
}

/**
 * Listen for the shortcuts. `actions` maps an action to a function that returns
 * false when it did nothing (then the key does what it does anyway). Keys go to
 * an open dialog, and to an input that handles them itself, first.
 */
export function setupShortcuts(actions) {
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing || document.querySelector("dialog[open]")) return;
    if (event.target.closest?.(".edit-form, .session-rename")) return;
    const shortcut = SHORTCUTS.find((s) => s.match?.(event));
    if (!shortcut) return;
    if (actions[shortcut.action]?.(event) !== false) event.preventDefault();
  });
}
