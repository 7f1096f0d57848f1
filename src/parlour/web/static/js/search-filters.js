// Search filters: persona, model, a date range, and pinned/archived, as a row of
// controls under a search box (the sidebar's and the palette's each have their own).
// The choices become GET /api/v1/search's parameters; changing one searches again.
import { t } from "./i18n.js";
import "./strings-search.js";

const STATES = ["", "pinned", "archived", "unarchived"];

function option(value, text) {
  const el = document.createElement("option");
  el.value = value;
  el.textContent = text;
  return el;
}

function labelled(text, control) {
  const label = document.createElement("label");
  label.className = "search-filter";
  const span = document.createElement("span");
  span.textContent = text;
  label.append(span, control);
  return label;
}

/** The day `value` (yyyy-mm-dd, the page's time zone) begins, as Unix time. */
function dayStart(value, later = 0) {
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + later).getTime() / 1000;
}

export class SearchFilters {
  /**
   * @param {HTMLElement} root where the controls go
   * @param {{personas: Map, models: Map}} catalog the page's personas and models
   * @param {() => void} onChange called when a choice changes
   */
  constructor(root, catalog, onChange) {
    this.root = root;
    this.catalog = catalog;
    this.toggle = document.createElement("button");
    this.toggle.type = "button";
    this.toggle.className = "link-btn search-filters-toggle";
    this.toggle.setAttribute("aria-expanded", "false");
    this.panel = document.createElement("div");
    this.panel.className = "search-filters";
    this.panel.hidden = true;
    this.panel.id = `${root.id}-panel`;
    this.toggle.setAttribute("aria-controls", this.panel.id);
    this.persona = document.createElement("select");
    this.persona.dataset.filter = "persona";
    this.model = document.createElement("select");
    this.model.dataset.filter = "model";
    this.from = document.createElement("input");
    this.from.type = "date";
    this.from.dataset.filter = "from";
    this.to = document.createElement("input");
    this.to.type = "date";
    this.to.dataset.filter = "to";
    this.state = document.createElement("select");
    this.state.dataset.filter = "state";
    this.clear = document.createElement("button");
    this.clear.type = "button";
    this.clear.className = "link-btn search-filters-clear";
    this.labels = [
      labelled("", this.persona), labelled("", this.model), labelled("", this.from),
      labelled("", this.to), labelled("", this.state),
    ];
    this.panel.append(...this.labels, this.clear);
    root.append(this.toggle, this.panel);
    this.toggle.addEventListener("click", () => this.open(this.panel.hidden));
    this.clear.addEventListener("click", () => {
      for (const el of [this.persona, this.model, this.from, this.to, this.state]) el.value = "";
      this.changed(onChange);
    });
    for (const el of [this.persona, this.model, this.from, this.to, this.state]) {
      el.addEventListener("change", () => this.changed(onChange));
    }
    this.render();
  }

  open(show) {
    if (show) this.fill();
    this.panel.hidden = !show;
    this.toggle.setAttribute("aria-expanded", String(show));
  }

  /** The controls' texts in the page's language (called again when it changes). */
  render() {
    const names = ["searchPersona", "searchModel", "searchFrom", "searchTo", "searchState"];
    this.labels.forEach((label, i) => (label.firstChild.textContent = t(names[i])));
    this.clear.textContent = t("searchClearFilters");
    this.state.replaceChildren(...STATES.map((s) => option(s, t(`searchState_${s || "all"}`))));
    this.fill();
    this.showCount();
  }

  /** The persona and model lists, from the page's catalog, keeping the choices. */
  fill() {
    const keep = [this.persona.value, this.model.value, this.state.value];
    this.persona.replaceChildren(option("", t("searchAnyPersona")),
      ...[...this.catalog.personas.values()].map((p) => option(p.id, p.label ?? p.name_en)));
    this.model.replaceChildren(option("", t("searchAnyModel")),
      ...[...this.catalog.models.values()].map((m) => option(m.id, m.id)));
    [this.persona.value, this.model.value, this.state.value] = keep;
  }

  changed(onChange) {
    this.showCount();
    onChange();
  }

  /** How many filters are set, on the toggle ("Filters · 2"). */
  showCount() {
    const n = Object.keys(this.params()).length;
    this.toggle.textContent = n ? t("searchFiltersOn", { n }) : t("searchFilters");
    this.toggle.classList.toggle("active", n > 0);
  }

  /** The search parameters the choices stand for. */
  params() {
    const out = {};
    if (this.persona.value) out.persona = this.persona.value;
    if (this.model.value) out.model = this.model.value;
    if (this.from.value) out.from = dayStart(this.from.value);
    if (this.to.value) out.to = dayStart(this.to.value, 1); // "to" includes that day
    const state = this.state.value;
    if (state === "pinned") out.pinned = true;
    if (state === "archived") out.archived = true;
    if (state === "unarchived") out.archived = false;
    return out;
  }
}
