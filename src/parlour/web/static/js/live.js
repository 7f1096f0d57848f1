// The live channel (GET /api/v1/events): what changed in this user's conversations, in
// another tab, on another device or through the API. The list is read again, and the
// conversation on screen catches up, unless this page is writing a reply in it.
import { api, BASE } from "./api.js";
import { t } from "./i18n.js";
import { toast } from "./notify.js";

const SETTLE_MS = 150; // changes that come together are read once

let stop = () => {}; // the channel open now, while the chat is shown

/** Stop listening. */
export function stopLive() {
  stop();
  stop = () => {};
}

/**
 * Start listening (instead of any channel open before). `conversation` is the open
 * Conversation, `refreshList()` reads the sidebar's list again.
 */
export function startLive({ conversation, refreshList }) {
  stopLive();
  if (typeof EventSource !== "function") return;
  const source = new EventSource(`${BASE}/events`);
  let timer = null;
  let list = false;
  let current = false;
  let first = true; // every connect begins with a resync; only a reconnect needs it
  const settle = () => {
    timer = null;
    const hands = document.activeElement?.closest?.("#session-list");
    if (list && hands) {
      // Not under the person's hands (a title being renamed): once focus leaves the list.
      hands.addEventListener("focusout", () => (timer ??= setTimeout(settle, SETTLE_MS)), { once: true });
    } else if (list) {
      refreshList();
      list = false;
    }
    if (current) catchUp(conversation).catch(() => {});
    current = false;
  };
  source.addEventListener("change", (event) => {
    let change;
    try {
      change = JSON.parse(event.data);
    } catch {
      return;
    }
    if (change.kind === "resync" && first) {
      first = false; // the page has just read everything itself
      return;
    }
    const open = conversation.session?.id;
    if (change.kind === "deleted" && change.session_id === open && !conversation.busy) {
      conversation.newChat(); // deleted elsewhere
      toast(t("deletedElsewhere"));
    }
    list = true;
    current ||= change.kind === "resync" || change.session_id === open;
    timer ??= setTimeout(settle, SETTLE_MS);
  });
  stop = () => {
    source.close();
    if (timer) clearTimeout(timer);
  };
}

/** Show what the server holds now, if it differs from what is on screen. */
async function catchUp(conversation) {
  if (!conversation.session || conversation.busy) return;
  const token = conversation.token;
  const session = await api.getSession(conversation.session.id);
  if (token !== conversation.token || conversation.busy) return;
  conversation.session = session;
  conversation.hooks.onSession(session);
  const shown = conversation.messages.views.at(-1)?.id ?? null;
  if (shown === (session.active_leaf ?? null) && !session.reply_id) return;
  await conversation.loadLatest(token);
  if (token === conversation.token && session.reply_id) await conversation.attach(token, session.reply_id);
}
