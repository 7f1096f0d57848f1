// Several conversations at once: a Select mode with a checkbox on each, and a bar to
// archive, move or delete the chosen ones together.
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

export class Bulk {
  constructor(sidebar, folders, run) {
    this.sidebar = sidebar;
    this.folders = folders;
    this.run = run; // (action, ids, folderId) => Promise
    $("select-toggle").addEventListener("click", () => (sidebar.selecting ? this.stop() : this.start()));
    $("bulk-cancel").addEventListener("click", () => this.stop());
    $("bulk-archive").addEventListener("click", () => this.apply("archive"));
    $("bulk-delete").addEventListener("click", () => this.apply("delete"));
    $("bulk-move").addEventListener("change", () => {
      const value = $("bulk-move").value;
      if (value) this.apply("move", value === "none" ? null : value);
    });
  }

  start() {
    this.sidebar.selecting = true;
    this.sidebar.selected.clear();
    $("select-toggle").setAttribute("aria-pressed", "true");
    $("bulk-bar").hidden = false;
    this.sidebar.render();
    this.update();
  }

  stop() {
    this.sidebar.selecting = false;
    this.sidebar.selected.clear();
    $("select-toggle").setAttribute("aria-pressed", "false");
    $("bulk-bar").hidden = true;
    this.sidebar.render();
  }

  /** After the selection or the folders changed. */
  update() {
    if (!this.sidebar.selecting) return;
    const n = this.sidebar.selected.size;
    $("bulk-count").textContent = t("selectedCount", { n });
    for (const id of ["bulk-archive", "bulk-delete", "bulk-move"]) $(id).disabled = n === 0;
    const options = [["", t("moveToLabel")], ["none", t("noFolder")]];
    for (const f of this.folders.folders) options.push([f.id, f.name]);
    $("bulk-move").replaceChildren(
      ...options.map(([value, label]) => Object.assign(document.createElement("option"), { value, textContent: label })),
    );
  }

  async apply(action, folderId = null) {
    const ids = [...this.sidebar.selected];
    if (ids.length === 0) return;
    const done = await this.run(action, ids, folderId);
    if (done) this.stop();
    else this.update();
  }
}
