// The conversation's messages in order, as MessageViews; with a scroller, only those
// near its viewport are built (msgwindow.js).
import { MessageView } from "./messages.js";
import { MessageWindow, TAIL, WHOLE } from "./msgwindow.js";
import { relabelThinking, showThinking } from "./thinking.js";

/**
 * The list of MessageViews, in order. With `scroll` (the AutoScroll of the list's
 * scroller) only the messages near the viewport are built (msgwindow.js); stored
 * messages arrive light.
 */
export class MessageList {
  constructor(ol, personas, scroll = null) {
    this.ol = ol;
    this.personas = personas;
    this.views = [];
    this.window = scroll ? new MessageWindow(this, scroll) : null;
  }

  clear() {
    this.views = [];
    this.ol.replaceChildren();
  }

  fromStored(m, built) {
    const view = new MessageView(m.role, {
      text: m.content, persona: m.persona, model: m.model ?? null, status: m.status, id: m.id,
      siblings: m.siblings, built,
    });
    view.label(this.personas);
    if (m.role === "assistant") view.setOutcome(m.status, m.error ? { code: m.error } : null);
    if (m.reasoning) showThinking(view, m.reasoning, { seconds: m.reasoning_seconds ?? null });
    return view;
  }

  show(messages) {
    this.clear();
    this.prepend(messages);
  }

  prepend(messages) {
    const built = !this.window || messages.length + this.views.length <= WHOLE;
    const views = messages.map((m) => this.fromStored(m, built));
    this.views = [...views, ...this.views];
    this.ol.prepend(...views.map((v) => v.li));
    this.changed();
  }

  add(view) {
    view.label(this.personas);
    this.views.push(view);
    this.ol.append(view.li);
    this.changed();
    return view;
  }

  remove(view) {
    view.li.remove();
    this.views = this.views.filter((v) => v !== view);
    this.changed();
  }

  /** After views came or went: the last few are built now, the rest on the next frame. */
  changed() {
    if (this.window) {
      for (const view of this.views.slice(-TAIL)) this.build(view);
      this.window.schedule();
    }
    this.refreshActions();
  }

  /** Build `view` (if it is light), with its action buttons; returns it. */
  build(view) {
    if (view && !view.built) {
      view.build();
      view.setActions(this.actionsFor(view));
      view.li.dispatchEvent(new CustomEvent("msg-built", { bubbles: true }));
    }
    return view;
  }

  /** Scroll to `view`, built, in the middle of the scroller. */
  reveal(view) {
    this.build(view);
    view.li.scrollIntoView({ block: "center" });
    this.window?.update(view.li);
  }

  /** The views after `view`, in order. */
  after(view) {
    const index = this.views.indexOf(view);
    return index === -1 ? [] : this.views.slice(index + 1);
  }

  lastUser() {
    return this.views.findLast((v) => v.role === "user") ?? null;
  }

  relabel() {
    for (const view of this.views) {
      view.label(this.personas);
      relabelThinking(view);
      if (view.role === "assistant" && !view.streaming) view.setOutcome(view.status, view.error);
      view.rerender();
    }
    this.refreshActions();
  }

  actionsFor(view, busy = this.busy) {
    const stored = Boolean(view.id);
    return {
      canEdit: !busy && stored && view.role === "user",
      canRegenerate: !busy && stored && view.role === "assistant",
      busy,
      canContinue: !busy && view === this.views.at(-1) && view.role === "assistant" && view.cutOff,
    };
  }

  /** Light views get their buttons when they are built. */
  refreshActions(busy = this.busy) {
    this.busy = busy;
    for (const view of this.views) if (view.built) view.setActions(this.actionsFor(view, busy));
  }
}
