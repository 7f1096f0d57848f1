// Search: the sidebar's box and the Ctrl/Cmd+K palette, both over GET /api/v1/search.
// Results are built with DOM calls (the snippet's matches become <mark> elements from
// the server's offsets); choosing one calls onOpen(hit).
import { api, isAbort } from "./api.js";
import { describeError } from "./errors.js";
import { lang, onLangChange, t } from "./i18n.js";
import { showBanner } from "./notify.js";
import { SearchFilters } from "./search-filters.js";

const DELAY = 180;

function when(ts) {
  return new Date(ts * 1000).toLocaleDateString(lang() === "zh" ? "zh-CN" : "en", {
    year: "numeric", month: "short", day: "numeric",
  });
}

/** The snippet as text nodes and <mark>s (marks: [start, end) in UTF-16 units). */
export function snippetNodes({ text, marks }) {
  const out = [];
  let at = 0;
  for (const [start, end] of marks) {
    if (start > at) out.push(document.createTextNode(text.slice(at, start)));
    const mark = document.createElement("mark");
    mark.textContent = text.slice(start, end);
    out.push(mark);
    at = end;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

function hitItem(hit, id) {
  const li = document.createElement("li");
  li.className = "search-hit";
  li.id = id;
  li.setAttribute("role", "option");
  li.dataset.session = hit.session_id;
  li.dataset.message = hit.message_id;
  const head = document.createElement("div");
  head.className = "search-hit-head";
  const title = document.createElement("span");
  title.className = "search-hit-title";
  title.textContent = hit.title || t("untitled");
  const date = document.createElement("time");
  date.className = "search-hit-date";
  date.dateTime = new Date(hit.timestamp * 1000).toISOString();
  date.textContent = when(hit.timestamp);
  head.append(title, date);
  const text = document.createElement("p");
  text.className = "search-hit-text";
  text.append(...snippetNodes(hit.snippet));
  li.append(head, text);
  return li;
}

/** An input and a list of results: typing searches, arrows move, Enter opens. */
export class SearchBox {
  constructor({ input, list, status, filters }, { onOpen, onQuery = () => {}, catalog }) {
    this.input = input;
    this.filters = filters && catalog ? new SearchFilters(filters, catalog, () => this.run()) : null;
    this.list = list;
    this.status = status;
    this.onOpen = onOpen;
    this.onQuery = onQuery;
    this.hits = [];
    this.current = -1;
    this.timer = 0;
    this.abort = null;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-autocomplete", "list");
    list.setAttribute("role", "listbox");
    input.addEventListener("input", () => this.schedule());
    input.addEventListener("keydown", (event) => this.key(event));
    list.addEventListener("click", (event) => {
      const li = event.target.closest(".search-hit");
      if (li) this.choose([...list.children].indexOf(li));
    });
  }

  get query() {
    return this.input.value.trim();
  }

  schedule() {
    clearTimeout(this.timer);
    this.onQuery(this.query);
    this.timer = setTimeout(() => this.run(), DELAY);
  }

  clear() {
    this.input.value = "";
    this.show([], "");
    this.onQuery("");
  }

  async run() {
    this.abort?.abort();
    const q = this.query;
    if (!q) return this.show([], "");
    const abort = (this.abort = new AbortController());
    this.setStatus(t("searching"));
    try {
      const params = { limit: 20, ...this.filters?.params() };
      const page = await api.search(q, params, abort.signal);
      if (abort.signal.aborted) return;
      this.show(page.items, page.items.length ? "" : t("searchNone", { q }));
    } catch (err) {
      if (isAbort(err)) return;
      this.show([], describeError(err));
    }
  }

  setStatus(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  show(hits, status) {
    this.hits = hits;
    this.list.replaceChildren(...hits.map((h, i) => hitItem(h, `${this.list.id}-${i}`)));
    this.input.setAttribute("aria-expanded", hits.length ? "true" : "false");
    this.setStatus(status);
    this.select(hits.length ? 0 : -1);
  }

  select(index) {
    this.current = index;
    [...this.list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
    const li = this.list.children[index];
    if (li) {
      this.input.setAttribute("aria-activedescendant", li.id);
      li.scrollIntoView({ block: "nearest" });
    } else this.input.removeAttribute("aria-activedescendant");
  }

  key(event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!this.hits.length) return;
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.select((this.current + step + this.hits.length) % this.hits.length);
    } else if (event.key === "Enter" && !event.isComposing) {
      event.preventDefault();
      clearTimeout(this.timer);
      if (this.current >= 0) this.choose(this.current);
      else this.run();
    }
  }

  choose(index) {
    const hit = this.hits[index];
    if (hit) this.onOpen(hit);
  }
}

/** The Ctrl/Cmd+K palette: a modal <dialog> holding a SearchBox. */
export class SearchPalette {
  constructor(dialog, { onOpen, catalog }) {
    this.dialog = dialog;
    this.box = new SearchBox(
      {
        input: dialog.querySelector("input"),
        list: dialog.querySelector("ul"),
        status: dialog.querySelector(".search-status"),
        filters: dialog.querySelector(".search-filter-row"),
      },
      {
        catalog,
        onOpen: (hit) => {
          dialog.close();
          onOpen(hit);
        },
      },
    );
    this.box.input.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault(); // a search field would only clear itself
      dialog.close();
    });
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close(); // a click on the backdrop
    });
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
        if (document.body.dataset.view !== "chat") return;
        event.preventDefault();
        this.toggle();
      }
    });
  }

  toggle() {
    if (this.dialog.open) return this.dialog.close();
    this.dialog.showModal();
    this.box.input.select();
    this.box.input.focus();
  }
}

/** Scroll the open conversation to message `id` (loading earlier pages if needed). */
export async function revealMessage(conversation, id) {
  const find = () => conversation.messages.ol.querySelector(`[data-id="${CSS.escape(id)}"]`);
  for (let i = 0; i < 100 && !find() && conversation.firstLoaded > 0; i++) {
    await conversation.loadEarlier();
  }
  const li = find();
  if (!li) return false;
  conversation.messages.reveal(li.view);
  li.classList.add("search-found");
  li.addEventListener("animationend", () => li.classList.remove("search-found"), { once: true });
  return true;
}

/**
 * The sidebar's search box and the Ctrl/Cmd+K palette, opening results in `conversation`;
 * returns the box.
 */
export function setupSearch(conversation, { beforeOpen, catalog }) {
  const $ = (id) => document.getElementById(id);
  const open = async (hit) => {
    beforeOpen();
    try {
      if (!hit.on_active_branch) await api.switchBranch(hit.session_id, hit.message_id);
      await conversation.open(hit.session_id);
      await revealMessage(conversation, hit.message_id);
    } catch (err) {
      showBanner(describeError(err));
    }
  };
  const box = new SearchBox(
    {
      input: $("sidebar-search"), list: $("sidebar-results"), status: $("sidebar-search-status"),
      filters: $("sidebar-filters"),
    },
    {
      catalog,
      onOpen: open,
      onQuery: (q) => {
        $("sidebar-results-panel").hidden = !q;
        $("session-nav").hidden = Boolean(q);
      },
    },
  );
  const palette = new SearchPalette($("search-palette"), { onOpen: open, catalog });
  onLangChange(() => [box, palette.box].forEach((b) => b.filters?.render()));
  if (/Mac|iPhone|iPad/.test(navigator.platform)) $("search-kbd").textContent = "⌘K";
  return box;
}
