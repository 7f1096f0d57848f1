// The conversation's messages. User text is shown as plain text; model text as
// sanitized Markdown (markdown.js). Nothing here assigns innerHTML.
import { describeError } from "./errors.js";
import { t } from "./i18n.js";
import { versionSwitcher } from "./branches.js";
import { icon, personaIcon } from "./icons.js";
import { renderMarkdown } from "./markdown.js";
import { StreamRender } from "./stream-render.js";
import { collapseLong, describeOutcome } from "./msgextras.js";
import { showThinking } from "./thinking.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function actionButton(action, label) {
  const button = el("button", "msg-action");
  button.type = "button";
  button.dataset.action = action;
  button.setAttribute("aria-label", label);
  button.title = label;
  button.append(icon(action));
  return button;
}

/**
 * A light message's height before it was ever measured: its lines at the thread's width,
 * with the bubble's padding, the byline and the actions' row. Only a guess: once built,
 * the real height replaces it and the reader's place is kept (msgwindow.js).
 */
function estimateHeight(view) {
  const perLine = view.role === "user" ? 64 : 78;
  let lines = 0;
  for (const line of view.text.split("\n")) lines += line ? Math.ceil(line.length / perLine) : 0.5;
  const fences = view.role === "user" ? 0 : (view.text.match(/^```/gm)?.length ?? 0) / 2;
  return Math.round(24 * lines + 54 * fences + (view.role === "user" ? 52 : 76));
}

/**
 * One message on screen; `text` is its raw content (what Copy copies). A message far
 * from the viewport is light (msgwindow.js): its item keeps its id, role, place, height
 * and author heading, and the rest is built again from the state kept here.
 */
export class MessageView {
  constructor(role, {
    text = "", persona = null, model = null, status = "complete", id = null, siblings = null, built = true,
  } = {}) {
    this.role = role;
    this.text = text;
    this.persona = persona;
    this.model = model;
    this.status = status;
    this.id = id;
    this.siblings = siblings; // ids of every version of this message (its parent's children)
    this.frame = 0; // a pending render (an animation frame or a timer)
    this.renderedAt = 0;
    this.renderCost = 0; // ms the last render took, with the frame that drew it
    this.li = el("li", `msg msg-${role}`);
    this.li.view = this;
    if (id) this.li.dataset.id = id;
    // Who wrote it: a heading (read out, and listed by screen readers); shown for replies.
    this.author = el("h2", role === "user" ? "sr-only" : "msg-byline");
    this.built = false;
    if (built) this.build();
    else this.lighten(estimateHeight(this));
  }

  /** Build the message's DOM (its text rendered in the page's language now). */
  build() {
    if (this.built) return;
    this.built = true;
    this.li.classList.remove("msg-light");
    this.li.style.height = "";
    const main = el("div", "msg-main");
    this.bubble = el("div", "bubble");
    this.content = el("div", this.role === "user" ? "content plain" : "content md");
    this.bubble.append(this.content);
    this.note = el("div", "msg-note");
    this.note.hidden = true;
    this.actions = el("div", "msg-actions");
    main.append(this.author, this.bubble, this.note, this.actions);
    this.li.replaceChildren();
    if (this.role === "assistant") {
      this.avatar = el("div", "avatar");
      this.avatar.setAttribute("aria-hidden", "true");
      this.avatar.append(personaIcon(this.face));
      this.li.append(this.avatar);
    }
    this.li.append(main);
    this.render();
    if (this.role === "assistant") this.showOutcome();
    if (this.reasoning) {
      showThinking(this, this.reasoning);
      this.thinking.open = Boolean(this.thinkingOpened); // as the reader left it
    }
  }

  /** Keep only an item of `height` px with the heading. Never done to a reply still streaming. */
  lighten(height) {
    this.built = false;
    this.li.classList.add("msg-light");
    this.li.style.height = `${height}px`;
    this.li.replaceChildren(this.author);
    this.bubble = this.content = this.note = this.actions = this.avatar = null;
    this.thinking = this.toggle = this.dots = null;
  }

  /** A reply that ended early (stopped, cut off at the length limit, interrupted): it can go on. */
  get cutOff() {
    if (!this.text || this.role !== "assistant") return false;
    return this.status === "partial" || this.finishReason === "length" || this.error?.code === "reply_interrupted";
  }

  label(personas) {
    const p = (this.face = personas.get(this.persona));
    if (this.role === "user") this.author.textContent = t("you");
    else {
      const name = p ? p.label : "AI";
      this.author.textContent = this.model ? t("byline", { persona: name, model: this.model }) : name;
    }
    this.avatar?.replaceChildren(personaIcon(p));
  }

  setText(text) {
    this.text = text;
    this.setTyping(false);
    if (this.frame) return;
    // While streaming, renders are spaced so that they take at most a sixteenth of the
    // main thread (and never come more than 20 times a second): each render has a fixed
    // cost (style, layout, paint) whatever it adds, and a long reply's costs more.
    const gap = Math.min(150, Math.max(50, 16 * this.renderCost));
    const wait = this.streaming ? gap - (performance.now() - this.renderedAt) : 0;
    const draw = () => (this.frame = { raf: requestAnimationFrame(() => {
      this.frame = 0;
      const start = (this.renderedAt = performance.now());
      this.render();
      this.onRender?.();
      // A task posted from a frame callback runs after that frame's own work (style,
      // layout, paint, commit): the render's cost is counted with the frame it costs.
      setTimeout(() => (this.renderCost = performance.now() - start));
    }) });
    if (wait > 8) this.frame = { timer: setTimeout(draw, wait) };
    else draw();
  }

  /** Show the text. While a reply streams, only its growing end is rendered again. */
  render() {
    if (this.role === "user") {
      this.content.textContent = this.text;
      collapseLong(this);
    }
    else if (this.streaming) (this.renderer ??= new StreamRender(this.content)).update(this.text);
    else if (this.renderer) {
      this.renderer.finish(this.text);
      this.renderer = null;
    } else this.content.replaceChildren(renderMarkdown(this.text));
    this.bubble.hidden = this.role === "assistant" && !this.text && !this.typing;
  }

  /** Flush a pending render now (used when the reply ends). */
  flush() {
    if (this.frame) {
      cancelAnimationFrame(this.frame.raf);
      clearTimeout(this.frame.timer);
      this.frame = 0;
    }
    this.render();
  }

  /** Render from scratch (the language changed: labels inside the text change too). */
  rerender() {
    if (!this.built) return; // built later, in the language of then
    this.renderer?.restart();
    this.render();
  }

  setTyping(on) {
    this.typing = on;
    this.li.classList.toggle("typing", on);
    if (on) {
      const dots = el("div", "typing-dots");
      dots.setAttribute("role", "status");
      const label = el("span", "sr-only", t("thinking"));
      dots.append(label, el("span", "dot"), el("span", "dot"), el("span", "dot"));
      this.renderer?.reset();
      this.content.replaceChildren(dots);
      this.dots = dots;
      this.bubble.hidden = false;
    } else if (this.dots) {
      // Called on every delta: no search of the (growing) content here.
      this.dots = null;
      this.renderer?.reset();
      this.content.replaceChildren();
    }
  }

  setStreaming(on) {
    this.streaming = on;
    this.li.classList.toggle("streaming", on);
    this.li.setAttribute("aria-busy", on ? "true" : "false");
  }

  /** Show how the message ended: stopped early, or an error (with the polite text). */
  setOutcome(status, error) {
    this.status = status;
    this.error = error;
    this.li.dataset.status = status;
    if (this.built) this.showOutcome();
  }

  showOutcome() {
    const { status, error } = this;
    this.note.replaceChildren();
    this.note.hidden = true;
    const outcome = describeOutcome(status, error);
    if (outcome) {
      this.note.append(outcome);
      this.note.hidden = false;
    } else if (status === "error" || error) {
      const alert = el("p", "msg-error", describeError(error ?? { code: "internal_error" }));
      alert.setAttribute("role", "alert");
      this.note.append(alert);
      this.note.hidden = false;
    } else if (status === "partial") {
      this.note.append(el("p", "msg-partial", t("stopped")));
      this.note.hidden = false;
    }
  }

  /**
   * Action buttons: copy; edit (a user message) or regenerate (a reply), which make a
   * new version beside this one; and, with several versions, `< n/m >` and delete.
   */
  setActions({ canEdit = false, canRegenerate = false, canContinue = false, busy = false } = {}) {
    if (!this.built) return;
    const buttons = [];
    const switcher = versionSwitcher(this.id, this.siblings, { busy });
    if (switcher) buttons.push(switcher);
    if (this.text) buttons.push(actionButton("copy", t("copy")));
    if (canEdit) buttons.push(actionButton("edit", t("edit")));
    if (canRegenerate) buttons.push(actionButton("regenerate", t("regenerate")));
    if (switcher && !busy) buttons.push(actionButton("delete-version", t("deleteVersion")));
    if (canContinue) buttons.push(actionButton("continue", t("continueReply")));
    this.actions.replaceChildren(...buttons);
  }

  /** Swap the bubble for an editor; resolves with the new text, or null if cancelled. */
  edit() {
    return new Promise((resolve) => {
      const form = el("form", "edit-form");
      const label = el("label", "sr-only", t("editLabel"));
      const area = el("textarea", "edit-input");
      area.id = `edit-${Math.random().toString(36).slice(2)}`;
      label.htmlFor = area.id;
      area.value = this.text;
      area.rows = Math.min(10, Math.max(2, this.text.split("\n").length));
      const row = el("div", "edit-actions");
      const cancel = el("button", "btn", t("cancel"));
      cancel.type = "button";
      const save = el("button", "btn btn-primary", t("saveSend"));
      save.type = "submit";
      row.append(cancel, save);
      form.append(label, area, row);
      this.bubble.hidden = true;
      this.actions.hidden = true;
      this.bubble.after(form);
      this.editing = true; // kept built while the form is open
      const finish = (value) => {
        this.editing = false;
        form.remove();
        this.bubble.hidden = false;
        this.actions.hidden = false;
        resolve(value);
      };
      cancel.addEventListener("click", () => finish(null));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        finish(area.value.trim() ? area.value : null);
      });
      area.addEventListener("keydown", (event) => {
        if (event.key === "Escape") finish(null);
        else if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    });
  }
}
