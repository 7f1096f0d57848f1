// The personas page: every persona one may use, searchable, to choose, edit (one's
// own), duplicate, delete, export and import. The form is persona-editor.js.
import "./strings-personas.js";
import { api } from "./api.js";
import { confirmAction } from "./dialog.js";
import { describeError } from "./errors.js";
import { lang, t } from "./i18n.js";
import { personaIcon } from "./icons.js";
import { toast } from "./notify.js";
import { PersonaEditor } from "./persona-editor.js";

export { showStarters } from "./starters.js";

const $ = (id) => document.getElementById(id);
const KINDS = { builtin: "kindBuiltin", published: "kindPublished", own: "kindOwn" };

const nameOf = (p) => (lang() === "zh" ? p.name_zh || p.name_en : p.name_en || p.name_zh);
const descOf = (p) => (lang() === "zh" ? p.description_zh || p.description_en : p.description_en || p.description_zh);

/**
 * Wire the personas dialog. `select` is the header's persona picker (choosing a
 * persona here sets it, as choosing it there does); `onChanged()` after the list changed.
 */
export function setupPersonas(catalog, { select, onChanged }) {
  const panel = new PersonaPanel(catalog, select, onChanged);
  $("open-personas").addEventListener("click", () => panel.open());
  return panel;
}

class PersonaPanel {
  constructor(catalog, select, onChanged) {
    this.catalog = catalog;
    this.select = select;
    this.onChanged = onChanged;
    this.dialog = $("personas-dialog");
    this.editor = new PersonaEditor(catalog.models, {
      onSaved: (saved) => this.saved(saved),
      onCancel: () => this.showList(),
    });
    $("personas-close").addEventListener("click", () => this.dialog.close());
    $("persona-search").addEventListener("input", () => this.render());
    $("persona-new").addEventListener("click", () => this.edit(null));
    $("persona-import").addEventListener("click", () => $("persona-file").click());
    $("persona-file").addEventListener("change", () => this.importFile());
    $("persona-list").addEventListener("click", (event) => this.onClick(event));
  }

  open() {
    this.showList();
    this.dialog.showModal();
    $("persona-search").focus();
  }

  showList() {
    $("persona-form").hidden = true;
    $("persona-browse").hidden = false;
    $("personas-title").textContent = t("personas");
    this.render();
  }

  edit(persona) {
    $("persona-browse").hidden = true;
    $("personas-title").textContent = t(persona ? "personaEditTitle" : "personaNewTitle");
    this.editor.open(persona);
  }

  render() {
    const words = $("persona-search").value.trim().toLowerCase();
    const all = [...this.catalog.personas.values()];
    const shown = all.filter((p) =>
      [p.name_en, p.name_zh, p.description_en, p.description_zh].some((s) => s?.toLowerCase().includes(words)),
    );
    $("persona-list").replaceChildren(...shown.map((p) => this.item(p)));
    $("persona-none").hidden = shown.length > 0;
  }

  item(p) {
    const li = document.createElement("li");
    li.className = "persona-item";
    li.dataset.id = p.id;
    const avatar = document.createElement("span");
    avatar.className = "avatar persona-avatar";
    avatar.append(personaIcon(p));
    const text = document.createElement("div");
    text.className = "persona-text";
    const name = document.createElement("p");
    name.className = "persona-name";
    name.textContent = nameOf(p);
    const kind = document.createElement("span");
    kind.className = "persona-kind";
    kind.textContent = p.id === this.select.value ? `${t(KINDS[p.kind])} · ${t("personaInUse")}` : t(KINDS[p.kind]);
    name.append(" ", kind);
    const desc = document.createElement("p");
    desc.className = "persona-desc";
    desc.textContent = descOf(p);
    text.append(name, desc);
    const actions = document.createElement("div");
    actions.className = "persona-actions";
    actions.setAttribute("role", "group");
    actions.setAttribute("aria-label", t("personaActions", { name: nameOf(p) }));
    const mine = p.kind === "own";
    for (const action of ["use", mine && "edit", "duplicate", "export", mine && "delete"].filter(Boolean)) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = action === "use" ? "btn btn-primary btn-small" : "btn btn-small";
      button.dataset.action = action;
      button.textContent = t(`persona${action[0].toUpperCase()}${action.slice(1)}`);
      actions.append(button);
    }
    li.append(avatar, text, actions);
    return li;
  }

  async onClick(event) {
    const button = event.target.closest("button[data-action]");
    const persona = this.catalog.personas.get(button?.closest("li")?.dataset.id);
    if (!persona) return;
    const act = {
      use: () => this.use(persona),
      edit: () => this.edit(persona),
      duplicate: () => this.duplicate(persona),
      export: () => this.exportFile(persona),
      delete: () => this.remove(persona),
    }[button.dataset.action];
    try {
      await act();
    } catch (err) {
      toast(describeError(err));
    }
  }

  use(persona) {
    this.select.value = persona.id;
    this.select.dispatchEvent(new Event("change"));
    this.dialog.close();
    toast(t("personaChosen", { name: nameOf(persona) }));
  }

  async changed() {
    await this.catalog.reloadPersonas();
    this.onChanged();
    this.render();
  }

  async saved(persona) {
    await this.changed();
    toast(t("personaSaved"));
    this.showList();
    $("persona-list").querySelector(`[data-id="${CSS.escape(persona.id)}"] button`)?.focus();
  }

  async duplicate(persona) {
    const copy = await api.duplicatePersona(persona.id);
    await this.changed();
    toast(t("personaDuplicated", { name: nameOf(copy) }));
    this.edit(this.catalog.personas.get(copy.id) ?? copy);
  }

  async remove(persona) {
    const ok = await confirmAction({
      title: t("personaDeleteTitle"),
      text: t("personaDeleteText", { name: nameOf(persona) }),
      ok: t("delete"),
    });
    if (!ok) return;
    await api.deletePersona(persona.id);
    await this.changed();
    toast(t("personaDeleted"));
  }

  async exportFile(persona) {
    const data = await api.exportPersona(persona.id);
    const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `${(nameOf(persona) || "persona").replace(/[\\/:*?"<>|]+/g, "_")}.persona.json`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  async importFile() {
    const input = $("persona-file");
    const file = input.files?.[0];
    input.value = "";
    if (!file) return;
    let data;
    try {
      data = JSON.parse(await file.text());
    } catch {
      toast(t("personaImportBad"));
      return;
    }
    try {
      const made = await api.importPersona(data);
      await this.changed();
      toast(t("personaImported", { name: nameOf(made) }));
    } catch (err) {
      toast(describeError(err));
    }
  }
}
