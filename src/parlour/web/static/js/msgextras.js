// Small parts of a message's life: long user messages folded behind "Show more",
// the note under a reply that the server's restart interrupted, and a new chat's
// first message.
import { api } from "./api.js";
import { describeError } from "./errors.js";
import { t } from "./i18n.js";
import { showBanner } from "./notify.js";

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

/**
 * Send `user` (a new MessageView) in `conversation`, creating its session first if
 * it has none. The new session is shown only once its first message is taken: a
 * refused one (too long, over quota) leaves no empty conversation behind.
 */
export async function sendCreating(conversation, text, user) {
  let created = null;
  try {
    if (!conversation.session) {
      const { personaForNew, modelForNew } = conversation.hooks;
      created = await api.createSession({ persona: personaForNew(), model: modelForNew?.() });
      conversation.session = created;
    }
  } catch (err) {
    showBanner(describeError(err));
    return false;
  }
  const token = conversation.token;
  const sent = await conversation.begin((stream) => stream.send(text), { user });
  if (created && token === conversation.token) {
    if (sent) conversation.hooks.onSession(conversation.session, { activity: true, firstMessage: text });
    else {
      conversation.session = null;
      api.deleteSession(created.id).catch(() => {}); // a retry creates another
    }
  }
  return sent;
}
