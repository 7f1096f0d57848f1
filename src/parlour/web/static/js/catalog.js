// Personas and models: the pickers in the header, and their names for everything
// else on the page (each reply says which persona and model wrote it).
import { api } from "./api.js";
import { lang } from "./i18n.js";

export class Catalog {
  constructor({ personaSelect, onModels }) {
    this.personaSelect = personaSelect;
    this.onModels = onModels; // the model picker's (models.js)
    this.personas = new Map(); // shared with the message list (labels, avatars)
    this.models = new Map();
    this.defaultPersona = "assistant";
    this.defaultModel = null;
    this.loaded = false;
  }

  /** Both lists, from `prefetched` (requests already under way) or asked for now. */
  async load(prefetched = null) {
    const [personaList, modelList] = await (prefetched ?? Catalog.fetch());
    this.defaultPersona = personaList.default;
    for (const p of personaList.personas) this.personas.set(p.id, { ...p });
    for (const m of modelList.models) this.models.set(m.id, m);
    this.defaultModel = modelList.default;
    this.fill();
    this.onModels?.(modelList);
    this.loaded = true;
    return { configured: Boolean(modelList.default) };
  }

  /** The personas again, after one was made, changed or deleted (the Map stays the same). */
  async reloadPersonas() {
    const list = await api.personas();
    this.personas.clear();
    for (const p of list.personas) this.personas.set(p.id, { ...p });
    this.fill();
  }

  static fetch() {
    return Promise.all([api.personas(), api.models()]);
  }

  /** (Re)fill the persona picker in the page's language, keeping the choice. */
  fill(fallback = null) {
    const value = this.personaSelect.value;
    for (const p of this.personas.values()) {
      p.label = lang() === "zh" ? p.name_zh || p.name_en : p.name_en || p.name_zh; // one name may be all it has
      p.desc = lang() === "zh" ? p.description_zh : p.description;
    }
    this.personaSelect.replaceChildren(
      ...[...this.personas.values()].map((p) => option(p.id, p.label)),
    );
    this.personaSelect.value = value || fallback || this.defaultPersona;
    if (this.personaSelect.selectedIndex < 0) this.personaSelect.value = this.defaultPersona; // deleted
  }

  personaName(id) {
    return this.personas.get(id)?.label ?? null;
  }

  /** A model's name as people know it (its display name, else its id). */
  modelName(id) {
    if (!id) return null;
    const m = this.models.get(id);
    return m?.name || m?.id || id.replace(/^[a-z]+:/i, "");
  }
}

function option(value, text) {
  const el = document.createElement("option");
  el.value = value;
  el.textContent = text;
  return el;
}
