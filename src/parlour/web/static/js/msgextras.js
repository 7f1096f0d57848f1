// Small parts of a message's look: long user messages folded behind "Show more",
// and the note under a reply that the server's restart interrupted.
import { t } from "./i18n.js";

const LONG_CHARS = 1200;
const LONG_LINES = 14;

/** Fold a long user message (call after its text is set); "Show more" unfolds it. */
export function collapseLong(view) {
  view.toggle?.remove();
  view.toggle = null;
  const long = view.text.length > LONG_CHARS || view.text.split("\n").length > LONG_LINES;
  view.bubble.classList.toggle("collapsible", long);
  if (!long) return;
  view.content.id ||= `msg-${Math.random().toString(36).slice(2, 10)}`;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "show-more";
  button.dataset.action = "expand";
  button.setAttribute("aria-controls", view.content.id);
  view.toggle = button;
  view.bubble.append(button);
  setExpanded(view, Boolean(view.expanded));
}

export function setExpanded(view, expanded) {
  view.expanded = expanded;
  view.bubble.classList.toggle("collapsed", !expanded);
  if (!view.toggle) return;
  view.toggle.textContent = t(expanded ? "showLess" : "showMore");
  view.toggle.setAttribute("aria-expanded", String(expanded));
}

/** The note for an interrupted reply (not an error of the reader's, not a stop of theirs). */
export function describeOutcome(status, error) {
  if (error?.code !== "reply_interrupted") return null;
  const note = document.createElement("p");
  note.className = "msg-partial msg-interrupted";
  note.textContent = t("interrupted");
  return note;
}
