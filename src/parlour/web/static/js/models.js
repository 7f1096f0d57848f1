// The model picker: every model grouped by provider, unavailable ones disabled with the
// reason, a filter when the list is long, and the user's default for new chats.
import { api } from "./api.js";
import { describeError } from "./errors.js";
import { onLangChange, t } from "./i18n.js";
import { showBanner } from "./notify.js";

const FILTER_FROM = 8; // models; from this many on the picker gets a filter

export class ModelPicker {
  constructor({ select, wrap, tools, filter, makeDefault }, { conversation }) {
    Object.assign(this, { select, wrap, tools, filter, makeDefault, conversation });
    this.list = null;
    this.draft = null; // the model chosen for a chat not yet created
    select.addEventListener("change", () => this.changed());
    filter.addEventListener("input", () => this.narrow());
    filter.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && filter.value) {
        event.stopPropagation();
        filter.value = "";
        this.narrow();
      }
    });
    makeDefault.addEventListener("click", () => this.setDefault());
  }

  /** The models' list as `GET /api/v1/models` gives it. */
  fill(list) {
    this.list = list;
    const groups = list.providers?.length ? list.providers : [{ name: "", models: list.models }];
    const several = groups.filter((g) => g.models.length).length > 1;
    const items = [];
    for (const g of groups) {
      if (!g.models.length) continue;
      const options = g.models.map((m) => this.option(m, several));
      if (!several) items.push(...options);
      else {
        const group = document.createElement("optgroup");
        group.label = g.available === false ? t("modelUnavailable", { name: g.name, reason: g.reason }) : g.name;
        group.append(...options);
        items.push(group);
      }
    }
    this.select.replaceChildren(...items);
    const count = list.models.length;
    this.wrap.hidden = count < 2;
    this.tools.hidden = count < 2;
    this.filter.hidden = count <= FILTER_FROM;
    this.show(this.conversation.session);
  }

  option(m, several) {
    const el = document.createElement("option");
    el.value = m.id;
    const name = m.name || (several ? m.id.slice(m.provider.length + 1) || m.id : m.id);
    el.textContent = m.available === false ? t("modelUnavailable", { name, reason: m.reason }) : name;
    el.disabled = m.available === false;
    el.title = m.id;
    el.dataset.search = `${m.id} ${m.name ?? ""} ${m.provider}`.toLowerCase();
    return el;
  }

  /** The default for new chats: the user's own, else the server's. */
  defaultModel() {
    return this.list?.user_default ?? this.list?.default ?? null;
  }

  /** Show `session`'s model (a new chat: the one chosen for it, or the default). */
  show(session) {
    if (!this.list) return;
    if (session) this.draft = null; // created: it has its own now
    const value = session?.model ?? this.draft ?? this.defaultModel();
    if (value && ![...this.select.options].some((o) => o.value === value)) {
      this.select.append(new Option(value, value)); // no longer offered: still what it uses
    }
    if (value) this.select.value = value;
    this.markDefault();
  }

  /** The model for the chat about to be created (undefined: the server decides). */
  forNew() {
    return this.draft ?? undefined;
  }

  markDefault() {
    const on = Boolean(this.select.value) && this.select.value === this.defaultModel();
    this.makeDefault.setAttribute("aria-pressed", String(on));
    const label = t(on ? "modelIsDefault" : "modelMakeDefault");
    this.makeDefault.title = label;
    this.makeDefault.setAttribute("aria-label", label);
  }

  async changed() {
    const model = this.select.value;
    const session = this.conversation.session;
    this.markDefault();
    if (!session) {
      this.draft = model;
      return;
    }
    try {
      this.conversation.session = await api.updateSession(session.id, { model });
    } catch (err) {
      this.select.value = session.model;
      showBanner(describeError(err));
    }
    this.markDefault();
  }

  async setDefault() {
    try {
      this.fill(await api.setDefaultModel(this.select.value));
    } catch (err) {
      showBanner(describeError(err));
    }
  }

  /** Hide the models that do not match the filter (their groups too, when empty). */
  narrow() {
    const words = this.filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    for (const option of this.select.querySelectorAll("option")) {
      option.hidden = !words.every((w) => (option.dataset.search ?? "").includes(w));
    }
    for (const group of this.select.querySelectorAll("optgroup")) {
      group.hidden = [...group.children].every((o) => o.hidden);
    }
  }
}

/** The picker on the page's own elements. */
export function setupModels(conversation) {
  const $ = (id) => document.getElementById(id);
  const elements = { select: $("model-select"), wrap: $("model-wrap"), tools: $("model-tools"),
    filter: $("model-filter"), makeDefault: $("model-default") };
  const picker = new ModelPicker(elements, { conversation });
  onLangChange(() => picker.list && picker.fill(picker.list)); // "unavailable", the star's label
  return picker;
}
