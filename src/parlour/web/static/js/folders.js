// The sidebar's folders: open one to see its conversations; drop a conversation on a
// folder to move it there. Renaming and deleting are in each folder's own buttons.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { icon } from "./icons.js";
import { DRAG_TYPE } from "./sidebar.js";

function button(cls, label, name) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.setAttribute("aria-label", label);
  b.title = label;
  if (name) b.append(icon(name));
  return b;
}

export class Folders {
  constructor(list, sidebar, { onMove, onRename, onDelete }) {
    this.list = list;
    this.sidebar = sidebar;
    this.hooks = { onMove, onRename, onDelete };
    this.folders = [];
    this.open = new Set();
    this.contents = new Map(); // folder id -> its conversations (while open)
  }

  byId(id) {
    return this.folders.find((f) => f.id === id);
  }

  clear() {
    this.folders = [];
    this.open.clear();
    this.contents.clear();
    this.render();
  }

  /** Fetch the folders, and the conversations of the open ones. */
  async load() {
    this.folders = (await api.folders()).folders;
    for (const id of this.open) if (!this.byId(id)) this.open.delete(id);
    const pages = await Promise.all([...this.open].map((id) => api.folderSessions(id)));
    this.contents.clear();
    [...this.open].forEach((id, i) => this.contents.set(id, pages[i].items));
    this.render();
  }

  async toggle(id) {
    if (this.open.has(id)) this.open.delete(id);
    else this.open.add(id);
    await this.load();
  }

  render() {
    this.list.closest("section").hidden = this.folders.length === 0;
    this.list.replaceChildren(...this.folders.map((folder) => this.row(folder)));
    this.sidebar.setActive(this.sidebar.activeId);
  }

  row(folder) {
    const li = document.createElement("li");
    li.className = "folder";
    li.dataset.folder = folder.id;
    const head = document.createElement("div");
    head.className = "folder-head";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "folder-toggle";
    toggle.setAttribute("aria-expanded", String(this.open.has(folder.id)));
    toggle.append(icon("folder"));
    const name = document.createElement("span");
    name.className = "folder-name";
    name.textContent = folder.name;
    const count = document.createElement("span");
    count.className = "folder-count";
    count.textContent = String(folder.count);
    toggle.append(name, count);
    toggle.addEventListener("click", () => this.toggle(folder.id));
    const rename = button("icon-btn small", `${t("renameFolder")}: ${folder.name}`, "rename");
    rename.addEventListener("click", () => this.hooks.onRename(folder));
    const remove = button("icon-btn small", `${t("deleteFolder")}: ${folder.name}`, "delete");
    remove.addEventListener("click", () => this.hooks.onDelete(folder));
    const tools = document.createElement("div");
    tools.className = "session-tools";
    tools.append(rename, remove);
    head.append(toggle, tools);
    li.append(head);
    if (this.open.has(folder.id)) {
      const items = document.createElement("ul");
      items.className = "folder-items";
      items.append(...(this.contents.get(folder.id) ?? []).map((s) => this.sidebar.item(s)));
      li.append(items);
    }
    li.addEventListener("dragover", (event) => {
      if (!event.dataTransfer.types.includes(DRAG_TYPE)) return;
      event.preventDefault();
      li.classList.add("drop-target");
    });
    li.addEventListener("dragleave", () => li.classList.remove("drop-target"));
    li.addEventListener("drop", (event) => {
      li.classList.remove("drop-target");
      const id = event.dataTransfer.getData(DRAG_TYPE);
      if (!id) return;
      event.preventDefault();
      event.stopPropagation();
      this.hooks.onMove(id, folder.id);
    });
    return li;
  }
}
