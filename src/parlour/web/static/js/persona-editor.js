// The persona editor: a form for a persona of one's own, with a live preview of the
// system prompt as the model would receive it now (the server fills the variables), and
// its sampling parameters (an empty field: not set).
import { api } from "./api.js";
import { describeError } from "./errors.js";
import { lang, t } from "./i18n.js";
import { fillSampling, readSampling } from "./sampling.js";

const $ = (id) => document.getElementById(id);
const FIELDS = {
  name_en: "pf-name-en",
  name_zh: "pf-name-zh",
  icon: "pf-icon",
  model: "pf-model",
  description_en: "pf-desc-en",
  description_zh: "pf-desc-zh",
  system_prompt: "pf-prompt",
};
const STARTERS = 4;
const PREVIEW_PAUSE_MS = 250; // ask once typing pauses, not on every key

export class PersonaEditor {
  /** models: the catalog's Map of models; onSaved(persona), onCancel(). */
  constructor(models, { onSaved, onCancel }) {
    this.form = $("persona-form");
    this.models = models;
    this.persona = null;
    this.timer = 0;
    this.asked = 0;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save(onSaved);
    });
    $("pf-cancel").addEventListener("click", () => onCancel());
    $("pf-prompt").addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.preview(), PREVIEW_PAUSE_MS);
    });
  }

  /** Edit `persona` (one's own), or a new one when it is null. */
  open(persona) {
    this.persona = persona;
    const select = $("pf-model");
    const choices = [["", t("personaModelDefault")], ...[...this.models.keys()].map((id) => [id, id])];
    if (persona?.model && !this.models.has(persona.model)) choices.push([persona.model, persona.model]);
    select.replaceChildren(...choices.map(([value, text]) => new Option(text, value)));
    for (const [name, id] of Object.entries(FIELDS)) $(id).value = persona?.[name] ?? "";
    for (let i = 0; i < STARTERS; i++) $(`pf-starter-${i}`).value = persona?.starters?.[i] ?? "";
    $("pf-memory").checked = persona?.use_memory ?? true;
    fillSampling("pf-param-", persona?.params);
    $("pf-error").hidden = true;
    this.form.hidden = false;
    $("pf-name-en").focus();
    this.preview();
  }

  fields() {
    const fields = {};
    for (const [name, id] of Object.entries(FIELDS)) fields[name] = $(id).value;
    fields.use_memory = $("pf-memory").checked;
    fields.params = readSampling("pf-param-");
    fields.starters = [];
    for (let i = 0; i < STARTERS; i++) {
      const text = $(`pf-starter-${i}`).value.trim();
      if (text) fields.starters.push(text);
    }
    return fields;
  }

  async preview() {
    const asked = ++this.asked;
    const prompt = $("pf-prompt").value;
    let text = "";
    if (prompt.trim()) {
      try {
        text = (await api.previewPrompt(prompt, lang())).filled;
      } catch (err) {
        text = describeError(err);
      }
    }
    if (asked === this.asked) $("pf-preview").textContent = text; // the newest answer only
  }

  async save(onSaved) {
    const error = $("pf-error");
    error.hidden = true;
    try {
      const fields = this.fields();
      const saved = this.persona
        ? await api.updatePersona(this.persona.id, fields)
        : await api.createPersona(fields);
      await onSaved(saved);
    } catch (err) {
      error.textContent = describeError(err);
      error.hidden = false;
    }
  }
}
