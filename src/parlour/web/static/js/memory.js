// The Memory page (facts about the user, the switch, the budget) and a reply's
// "Remember that ...?" proposal, which only the user's click stores; also where the
// summary note (summary.js) is set up, the other kind of memory a conversation has.
import "./strings-memory.js";
import { api } from "./api.js";
import { describeError } from "./errors.js";
import { t } from "./i18n.js";
import { toast } from "./notify.js";
import { SummaryNote } from "./summary.js";

const $ = (id) => document.getElementById(id);
// What the model is told to write to propose a fact (parlour/memory.py, PROPOSE).
const PROPOSAL = /\[\[remember:\s*([^\]\n]{1,300}?)\s*\]\]/i;

/** Wire the Memory page and the summary note; `show(session)` after a change or a reply. */
export function setupMemory(list) {
  const page = new MemoryPage();
  const note = new SummaryNote(list);
  $("open-memory").addEventListener("click", () => page.open());
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-remember]");
    if (button) page.remember(button);
  });
  list.addEventListener("msg-built", (event) => offerFact(event.target)); // built as it came near
  return {
    show(session) {
      note.show(session);
      offerFacts(list);
    },
  };
}

/** Under each reply that proposes a fact, a "Remember that ...?" with one button. */
function offerFacts(list) {
  for (const li of list.querySelectorAll("li.msg-assistant")) offerFact(li);
}

function offerFact(li) {
  const view = li.view;
  const fact = view?.role === "assistant" && PROPOSAL.exec(view.text)?.[1];
  if (!fact || !view.built || li.querySelector(".remember")) return;
  const box = document.createElement("div");
  box.className = "remember";
  if (view.remembered) {
    box.append(remembered(fact));
  } else {
    const text = document.createElement("span");
    text.textContent = t("rememberAsk", { fact });
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-small";
    button.dataset.remember = fact;
    button.textContent = t("remember");
    box.append(text, button);
  }
  li.lastElementChild.append(box);
}

function remembered(fact) {
  const done = document.createElement("span");
  done.textContent = t("remembered", { fact });
  return done;
}

class MemoryPage {
  constructor() {
    this.dialog = $("memory-dialog");
    this.state = null;
    this.queue = Promise.resolve();
    $("memory-close").addEventListener("click", () => this.dialog.close());
    $("memory-enabled").addEventListener("change", () => this.run(async () => {
      const on = $("memory-enabled").checked;
      this.show(await api.switchMemory(on));
      toast(t(on ? "memoryOn" : "memoryOff"));
    }));
    $("memory-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const box = $("memory-new");
      const text = box.value;
      this.run(async () => {
        this.show(await api.addFact(text));
        if (box.value === text) box.value = ""; // keep what was typed meanwhile
      });
    });
  }

  async open() {
    $("memory-error").hidden = true;
    this.dialog.showModal();
    await this.run(async () => this.show(await api.memory()));
    $("memory-new").focus();
  }

  // Changes run one after another, so each answer is shown in the order it was asked for.
  run(fn) {
    this.queue = this.queue.then(async () => {
      $("memory-error").hidden = true;
      try {
        await fn();
      } catch (err) {
        $("memory-error").textContent = describeError(err);
        $("memory-error").hidden = false;
      }
    });
    return this.queue;
  }

  show(state) {
    this.state = state;
    $("memory-enabled").checked = state.enabled;
    const items = state.facts.map((fact, i) => {
      const li = document.createElement("li");
      li.className = "memory-item";
      const input = document.createElement("input");
      input.value = fact.text;
      input.maxLength = 300;
      input.setAttribute("aria-label", t("memoryFact", { n: i + 1 }));
      input.addEventListener("change", () => this.run(async () => {
        this.show(await api.editFact(fact.id, input.value));
        toast(t("memorySaved"));
      }));
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-small";
      remove.textContent = t("delete");
      remove.setAttribute("aria-label", `${t("delete")}: ${fact.text}`);
      remove.addEventListener("click", () => this.run(async () => {
        this.show(await api.deleteFact(fact.id));
        toast(t("memoryDeleted"));
      }));
      li.append(input, remove);
      return li;
    });
    if (!items.length) {
      const li = document.createElement("li");
      li.textContent = t("memoryEmpty");
      items.push(li);
    }
    $("memory-list").replaceChildren(...items);
    $("memory-budget").textContent = t("memoryBudget", {
      used: state.used_chars, max: state.max_chars, n: state.facts.length, most: state.max_facts,
    });
  }

  /** The one click that keeps a fact a reply proposed. */
  async remember(button) {
    const fact = button.dataset.remember;
    try {
      await api.addFact(fact);
      const view = button.closest("li.msg")?.view;
      if (view) view.remembered = true; // still said when the message is built again
      button.parentElement.replaceChildren(remembered(fact));
    } catch (err) {
      toast(describeError(err));
    }
  }
}
