// The list of sessions, newest activity first: switch, rename in place, delete.
import { t } from "./i18n.js";
import { icon } from "./icons.js";

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
  constructor({ list, empty, more }, { onSelect, onRename, onDelete, onMore }) {
    this.list = list;
    this.empty = empty;
    this.more = more;
    this.sessions = [];
    this.total = 0;
    this.activeId = null;
    this.generating = new Set();
    this.handlers = { onSelect, onRename, onDelete };
    more.addEventListener("click", () => onMore());
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const id = button.closest("li").dataset.id;
      const action = button.dataset.action;
      if (action === "open") onSelect(id);
      else if (action === "rename") this.startRename(id);
      else if (action === "delete") onDelete(this.sessions.find((s) => s.id === id));
    });
  }

  setSessions(sessions, total) {
    this.sessions = sessions;
    this.total = total;
    this.render();
  }

  /** Put a session first (new activity) or update it in place. */
  upsert(session, { toTop = false } = {}) {
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
    for (const li of this.list.children) {
      const open = li.querySelector('[data-action="open"]');
      const active = li.dataset.id === id;
      li.classList.toggle("active", active);
      if (active) open.setAttribute("aria-current", "page");
      else open.removeAttribute("aria-current");
    }
  }

  render() {
    const items = this.sessions.map((session) => {
      const li = document.createElement("li");
      li.className = "session";
      li.dataset.id = session.id;
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
      tools.append(
        iconButton("rename", `${t("rename")}: ${titleOf(session)}`),
        iconButton("delete", `${t("delete")}: ${titleOf(session)}`),
      );
      li.append(open, tools);
      return li;
    });
    this.list.replaceChildren(...items);
    this.empty.hidden = this.sessions.length > 0;
    this.more.hidden = this.sessions.length >= this.total;
    this.setActive(this.activeId);
  }

  /** Replace the title with an input: Enter or leaving saves, Escape cancels. */
  startRename(id) {
    const li = [...this.list.children].find((node) => node.dataset.id === id);
    const session = this.sessions.find((s) => s.id === id);
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
