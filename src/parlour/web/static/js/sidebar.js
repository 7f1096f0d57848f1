// The list of conversations: pinned first, the rest grouped by date; switch, rename in
// place, a menu of more actions, several selected at once, and dragging into folders.
import { groupSessions } from "./groups.js";
import { t } from "./i18n.js";
import { icon } from "./icons.js";

export const DRAG_TYPE = "application/x-parlour-session";

function iconButton(action, label) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "icon-btn small";
  button.dataset.action = action;
  button.setAttribute("aria-label", label);
  button.title = label;
  button.append(icon(action));
  return button;
}

// Until a conversation has a title, it goes by its first words (kept here, per page).
const previews = new Map();

/** Remember the first message of a conversation that has no title yet. */
export function setPreview(id, text) {
  const words = text.replace(/[#*_`>~[\]]+/g, " ").replace(/\s+/g, " ").trim();
  if (words) previews.set(id, words.length > 60 ? `${words.slice(0, 59)}…` : words);
}

export const titleOf = (session) =>
  session?.title?.trim() || (session && previews.get(session.id)) || t("untitled");

export class Sidebar {
  constructor({ list, empty, more, nav }, { onSelect, onRename, onDelete, onMore, onAction }) {
    this.list = list;
    this.empty = empty;
    this.more = more;
    this.nav = nav;
    this.sessions = [];
    this.total = 0;
    this.activeId = null;
    this.generating = new Set();
    this.selecting = false;
    this.selected = new Set();
    this.shown = new Map(); // every conversation on show (folders' too), by id
    this.handlers = { onSelect, onRename, onDelete, onAction };
    more.addEventListener("click", () => onMore());
    nav.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      const li = button?.closest("li.session");
      if (!li) return;
      const id = li.dataset.id;
      const action = button.dataset.action;
      if (action === "open") onSelect(id);
      else if (action === "rename") this.startRename(id);
      else if (action === "delete") onDelete(this.find(id));
      else if (action === "more") onAction("menu", this.find(id), button);
    });
    nav.addEventListener("change", (event) => {
      const box = event.target.closest("input.session-check");
      if (!box) return;
      const id = box.closest("li.session").dataset.id;
      if (box.checked) this.selected.add(id);
      else this.selected.delete(id);
      onAction("selection");
    });
    nav.addEventListener("dragstart", (event) => {
      const li = event.target.closest?.("li.session");
      if (!li) return;
      event.dataTransfer.setData(DRAG_TYPE, li.dataset.id);
      event.dataTransfer.effectAllowed = "move";
    });
    // Dropped on the list itself: out of its folder.
    list.addEventListener("dragover", (event) => {
      if (event.dataTransfer.types.includes(DRAG_TYPE)) event.preventDefault();
    });
    list.addEventListener("drop", (event) => {
      const id = event.dataTransfer.getData(DRAG_TYPE);
      if (!id || !this.find(id)?.folder_id) return;
      event.preventDefault();
      onAction("drop", this.find(id), null);
    });
  }

  find(id) {
    return this.shown.get(id) ?? this.sessions.find((s) => s.id === id);
  }

  setSessions(sessions, total) {
    this.sessions = sessions;
    this.total = total;
    this.render();
  }

  /** Put a session first (new activity) or update it in place. */
  upsert(session, { toTop = false } = {}) {
    // New activity: it belongs under Today, whatever the copy in hand last said.
    if (toTop) session = { ...session, updated_at: Math.max(session.updated_at, Date.now() / 1000) };
    const index = this.sessions.findIndex((s) => s.id === session.id);
    if (index === -1) {
      this.sessions.unshift(session);
      this.total++;
    } else if (toTop) {
      this.sessions.splice(index, 1);
      this.sessions.unshift(session);
    } else {
      this.sessions[index] = session;
    }
    this.shown.set(session.id, session);
    this.render();
  }

  removeSession(id) {
    const before = this.sessions.length;
    this.sessions = this.sessions.filter((s) => s.id !== id);
    if (this.sessions.length < before) this.total--;
    this.render();
  }

  /** Mark a conversation whose reply is being written (shown with a pulsing dot). */
  setGenerating(id, on) {
    if (!id || this.generating.has(id) === on) return;
    if (on) this.generating.add(id);
    else this.generating.delete(id);
    this.render();
  }

  setActive(id) {
    this.activeId = id;
    for (const li of this.nav.querySelectorAll("li.session")) {
      const open = li.querySelector('[data-action="open"]');
      const active = li.dataset.id === id;
      li.classList.toggle("active", active);
      if (active) open.setAttribute("aria-current", "page");
      else open.removeAttribute("aria-current");
    }
  }

  /** One conversation's row (also used for the ones shown inside folders). */
  item(session) {
    this.shown.set(session.id, session);
    const li = document.createElement("li");
    li.className = "session";
    li.dataset.id = session.id;
    li.draggable = true;
    if (this.selecting) {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.className = "session-check";
      box.checked = this.selected.has(session.id);
      box.setAttribute("aria-label", t("selectChat", { title: titleOf(session) }));
      li.append(box);
    }
    const open = document.createElement("button");
    open.type = "button";
    open.className = "session-open";
    open.dataset.action = "open";
    open.textContent = titleOf(session);
    open.title = titleOf(session);
    if (this.generating.has(session.id)) {
      const dot = document.createElement("span");
      dot.className = "generating";
      dot.title = t("generating");
      const label = document.createElement("span");
      label.className = "sr-only";
      label.textContent = ` (${t("generating")})`;
      open.prepend(dot);
      open.append(label);
      li.classList.add("is-generating");
    }
    const tools = document.createElement("div");
    tools.className = "session-tools";
    const more = iconButton("more", `${t("more")}: ${titleOf(session)}`);
    more.setAttribute("aria-haspopup", "menu");
    more.setAttribute("aria-expanded", "false");
    tools.append(
      more,
      iconButton("rename", `${t("rename")}: ${titleOf(session)}`),
      iconButton("delete", `${t("delete")}: ${titleOf(session)}`),
    );
    li.append(open, tools);
    return li;
  }

  render() {
    // Conversations in a folder are listed under it (unless pinned).
    const loose = this.sessions.filter((s) => s.pinned || !s.folder_id);
    const nodes = [];
    for (const group of groupSessions(loose)) {
      const head = document.createElement("li");
      head.className = "session-group";
      head.dataset.group = group.key;
      const title = document.createElement("h3");
      title.textContent = group.label;
      head.append(title);
      nodes.push(head, ...group.items.map((s) => this.item(s)));
    }
    this.list.replaceChildren(...nodes);
    this.empty.hidden = this.sessions.length > 0;
    this.more.hidden = this.sessions.length >= this.total;
    this.handlers.onAction("rendered");
    this.setActive(this.activeId);
  }

  /** Replace the title with an input: Enter or leaving saves, Escape cancels. */
  startRename(id) {
    const li = this.nav.querySelector(`li.session[data-id="${CSS.escape(id)}"]`);
    const session = this.find(id);
    if (!li || !session) return;
    const input = document.createElement("input");
    input.className = "session-rename";
    input.value = session.title;
    input.maxLength = 200;
    input.setAttribute("aria-label", t("renameLabel"));
    const open = li.querySelector('[data-action="open"]');
    open.hidden = true;
    li.querySelector(".session-tools").hidden = true;
    li.prepend(input);
    input.focus();
    input.select();
    let done = false;
    const finish = (save) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      input.remove();
      open.hidden = false;
      li.querySelector(".session-tools").hidden = false;
      open.focus();
      if (save && title && title !== session.title) this.handlers.onRename(session, title);
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        finish(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
  }
}
