// Where the model's view of a long conversation begins: a note in the list before the
// first message it still sees in full ("Earlier messages are summarized - view / edit",
// or where they were trimmed), and the dialog to read, correct or turn off the summary.
import "./strings-memory.js";
import { api } from "./api.js";
import { describeError } from "./errors.js";
import { t } from "./i18n.js";
import { toast } from "./notify.js";

const $ = (id) => document.getElementById(id);
const POLLS = 20; // while a summary is being written: at most this many looks
const POLL_MS = 1500;

export class SummaryNote {
  constructor(list) {
    this.list = list;
    this.session = null;
    this.state = null;
    this.token = 0;
    this.li = document.createElement("li");
    this.li.className = "context-note";
    this.li.id = "context-note";
    this.li.addEventListener("click", (event) => this.onClick(event));
    $("summary-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    $("summary-close").addEventListener("click", () => $("summary-dialog").close());
    $("summary-enabled").addEventListener("change", () => this.switchTo($("summary-enabled").checked));
  }

  /** Look again at `session` (after it opened, or a reply in it ended). */
  async show(session) {
    const token = ++this.token;
    this.session = session;
    if (!session) return this.li.remove();
    for (let i = 0; i < POLLS && token === this.token; i++) {
      try {
        this.state = await api.summary(session.id);
      } catch {
        this.li.remove(); // the note is extra: a failure to read it must not get in the way
        return;
      }
      if (token !== this.token) return;
      this.render();
      if (!this.state.pending) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  render() {
    const s = this.state;
    const kind = !s.enabled ? (s.trimmed ? "off" : null)
      : s.failed && s.trimmed ? "failed"
      : s.summary ? "summarized"
      : s.trimmed ? (s.pending ? "pending" : "trimmed") : null;
    if (!kind) return this.li.remove();
    this.li.dataset.kind = kind;
    this.li.classList.toggle("failed", kind === "failed");
    const text = document.createElement("span");
    text.textContent = t(`summaryNote_${kind}`, { n: s.trimmed });
    const parts = [text];
    if (s.summary || !s.enabled || kind === "failed") parts.push(button(s.summary ? "summaryView" : "summarySettings"));
    this.li.replaceChildren(...parts);
    const first = [...this.list.children].find((li) => li.view?.id && li.view.id === s.first_kept);
    if (first) this.list.insertBefore(this.li, first);
    else if (this.li.parentNode !== this.list) this.list.prepend(this.li);
  }

  onClick(event) {
    if (!event.target.closest("button")) return;
    const s = this.state;
    $("summary-text").value = s.summary?.text ?? "";
    $("summary-text").disabled = !s.summary;
    $("summary-save").hidden = !s.summary;
    $("summary-enabled").checked = s.enabled;
    $("summary-meta").textContent = s.summary
      ? t(s.summary.edited ? "summaryMetaEdited" : "summaryMeta", { n: s.summary.messages, model: s.summary.model })
      : t(s.failed ? "summaryNote_failed" : "summaryNoneYet", { n: s.trimmed });
    $("summary-error").hidden = true;
    $("summary-dialog").showModal();
  }

  async save() {
    try {
      this.state = await api.editSummary(this.session.id, $("summary-text").value);
      this.render();
      $("summary-dialog").close();
      toast(t("summarySaved"));
    } catch (err) {
      $("summary-error").textContent = describeError(err);
      $("summary-error").hidden = false;
    }
  }

  async switchTo(on) {
    try {
      this.state = await api.switchSummary(this.session.id, on);
      this.render();
      toast(t(on ? "summaryOn" : "summaryOff"));
    } catch (err) {
      $("summary-enabled").checked = !on;
      $("summary-error").textContent = describeError(err);
      $("summary-error").hidden = false;
    }
  }
}

function button(key) {
  const el = document.createElement("button");
  el.type = "button";
  el.className = "link-btn";
  el.textContent = t(key);
  return el;
}
