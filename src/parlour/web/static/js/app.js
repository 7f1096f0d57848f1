// The page: wires the sidebar, the conversation, the composer and the settings together.
import { api, whenSignedOut } from "./api.js";
import { Auth } from "./auth.js";
import { Catalog } from "./catalog.js";
import { Composer } from "./composer.js";
import { setupConnection } from "./connection.js";
import { Conversation } from "./conversation.js";
import { setupModels } from "./models.js";
import { describeError } from "./errors.js";
import { onLangChange, t, translate } from "./i18n.js";
import { personaIcon } from "./icons.js";
import { startLive, stopLive } from "./live.js";
import { hideBanner, showBanner } from "./notify.js";
import { setupOrganise } from "./organise.js";
import { setupPanels } from "./panels.js";
import { showStarters } from "./personas.js";
import { setupPrefs } from "./prefs.js";
import { AutoScroll } from "./scroll.js";
import { setupSearch } from "./search.js";
import { fillHelp, setupShortcuts } from "./shortcuts.js";
import { Sidebar, setPreview, titleOf } from "./sidebar.js";
import { closeSidebar, setupLayout, togglePickers } from "./layout.js";
import { idFromUrl, remember, savedId } from "./where.js";

const $ = (id) => document.getElementById(id);
const catalog = new Catalog({ personaSelect: $("persona-select"), onModels: (list) => models.fill(list) });
const personas = catalog.personas;
const defaultPersona = () => catalog.defaultPersona;
let draftPersona = null;

// --- pieces -------------------------------------------------------------------

const scroll = new AutoScroll($("scroller"), $("jump"));
let organise = null;
const sidebar = new Sidebar(
  { list: $("session-list"), empty: $("session-empty"), more: $("more-sessions"), nav: $("session-nav") },
  {
    onSelect: (id) => openSession(id),
    onRename: (session, title) => rename(session, title),
    onDelete: (session) => organise.remove(session),
    onMore: () => loadSessions(true),
    onAction: (...args) => organise?.onAction(...args),
  },
);
const conversation = new Conversation(
  { list: $("messages"), scroll, personas, earlier: $("load-earlier") },
  {
    onSession: (session, { activity = false, firstMessage = null } = {}) => {
      if (session && firstMessage) setPreview(session.id, firstMessage);
      showSession(session, activity);
    },
    onBusy: (busy) => {
      composer.setBusy(busy);
      sidebar.setGenerating(conversation?.session?.id, busy);
    },
    onEmpty: (empty) => {
      $("empty-state").hidden = !empty;
      $("clear-history").hidden = empty;
      $("share-chat").hidden = empty;
    },
    onLeftRunning: (id) => watchRunning(id),
    personaForNew: () => $("persona-select").value || defaultPersona(),
    modelForNew: () => models.forNew(),
  },
);
const models = setupModels(conversation);
const composer = new Composer(
  { form: $("composer"), input: $("input"), send: $("send"), stop: $("stop"), counter: $("char-count") },
  {
    onSend: async (text) => {
      composer.value = "";
      const sent = await conversation.send(text);
      if (!sent && !composer.value) composer.value = text; // give the text back to retry
    },
    onStop: () => conversation.stop(),
  },
);

const searchBox = setupSearch(conversation, { beforeOpen: closeSidebar, catalog });
const memory = setupPanels({ conversation, catalog, showWelcome, loadSessions });
organise = setupOrganise({ sidebar, conversation, loadSessions: () => loadSessions(), openSession });
// --- the open session -----------------------------------------------------------

function showSession(session, activity) {
  const id = session?.id ?? null;
  if (session) sidebar.upsert(session, { toTop: activity });
  sidebar.setActive(id);
  remember(id);
  const hash = id ? `#/c/${id}` : "";
  if (location.hash !== hash) history.pushState(null, "", hash || location.pathname + location.search);
  $("chat-title").textContent = session ? titleOf(session) : t("newChat");
  document.title = session ? `${titleOf(session)} · Parlour` : "Parlour";
  $("persona-select").value = session?.persona ?? draftPersona ?? defaultPersona();
  models.show(session);
  memory.show(session);
  showWelcome();
}

function showWelcome() {
  const p = personas.get($("persona-select").value);
  $("empty-icon").replaceChildren(personaIcon(p));
  $("empty-title").textContent = t("welcome", { name: p?.label ?? "AI" });
  $("empty-desc").textContent = p?.desc ?? "";
  showStarters($("starters"), p, (text) => conversation.send(text));
}

async function openSession(id) {
  closeSidebar();
  if (conversation.session?.id === id) return;
  try {
    await conversation.open(id);
  } catch (err) {
    if (err.status === 404) {
      sidebar.removeSession(id);
      conversation.newChat();
    }
    showBanner(describeError(err));
  }
}

function newChat() {
  closeSidebar();
  conversation.newChat();
  composer.focus();
}

async function rename(session, title) {
  try {
    const updated = await api.updateSession(session.id, { title });
    if (conversation.session?.id === updated.id) {
      conversation.session = updated;
      showSession(updated, false);
    } else sidebar.upsert(updated);
  } catch (err) {
    showBanner(describeError(err));
  }
}

/** A conversation left while its reply runs stays marked in the list until the reply ends. */
async function watchRunning(id) {
  if (!id) return;
  sidebar.setGenerating(id, true);
  for (let i = 0; i < 150 && sidebar.generating.has(id); i++) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    if (conversation.session?.id === id) return; // opened again: the page follows it
    try {
      if (!(await api.getSession(id)).reply_id) break;
    } catch {
      break;
    }
  }
  if (conversation.session?.id !== id) sidebar.setGenerating(id, false);
}

async function loadSessions(more = false, prefetched = null) {
  try {
    const offset = more ? sidebar.sessions.length : 0;
    const page = await (prefetched ?? api.listSessions(offset, 50));
    sidebar.setSessions(more ? [...sidebar.sessions, ...page.items] : page.items, page.total);
  } catch (err) {
    showBanner(describeError(err));
  }
}

// --- personas and models ------------------------------------------------------

async function changePersona() {
  const select = $("persona-select");
  showWelcome();
  if (!conversation.session) {
    draftPersona = select.value;
    return;
  }
  try {
    conversation.session = await api.updateSession(conversation.session.id, { persona: select.value });
  } catch (err) {
    select.value = conversation.session.persona;
    showBanner(describeError(err));
  }
}

$("messages").addEventListener("click", (event) => conversation.onClick(event));
$("new-chat").addEventListener("click", newChat);
$("clear-history").addEventListener("click", () => organise.clearHistory());
$("persona-select").addEventListener("change", changePersona);
setupLayout();
$("banner-close").addEventListener("click", () => hideBanner());
setupShortcuts({
  newChat: () => newChat(),
  focusInput: () => composer.focus(),
  help: () => $("help-dialog").showModal(),
  stop: () => {
    if (togglePickers(false) || closeSidebar()) return true;
    if (!conversation.busy) return false;
    conversation.stop();
  },
});
window.addEventListener("hashchange", () => {
  if (document.body.dataset.view !== "chat") return;
  const id = idFromUrl();
  if (id) openSession(id);
  else if (conversation.session) newChat();
});
setupConnection();
onLangChange(() => {
  catalog.fill(conversation.session?.persona);
  fillHelp($("shortcut-list"));
  sidebar.render();
  conversation.messages.relabel();
  showSession(conversation.session, false);
});

// --- signing in and out (AUTH_MODE=password) ------------------------------------------

const auth = new Auth({ onSignedIn: () => enterChat(), onSignedOut: () => leaveChat() });
whenSignedOut(() => {
  if (document.body.dataset.view !== "chat") return;
  leaveChat();
  auth.showScreen(t("authExpired"));
});

/** Forget the signed-out user's conversation on this page (their data stays on the server). */
function leaveChat() {
  stopLive();
  closeSidebar();
  conversation.leave();
  searchBox.clear();
  organise.clear();
  sidebar.setSessions([], 0);
  remember(null);
  hideBanner();
  composer.value = "";
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
}

/**
 * The lists the chat needs, asked for while the sign-in check is still out (one
 * round trip instead of three on a slow link) when the page can tell the reader is
 * signed in: no accounts on this server, or a sign-in cookie is there.
 */
function prefetch() {
  const accounts = document.querySelector('meta[name="parlour:auth-mode"]')?.content !== "none";
  if (accounts && !/(?:^|;\s*)parlour_csrf=/.test(document.cookie)) return null;
  const quiet = (promise) => (promise.catch(() => {}), promise);
  return { catalog: quiet(Catalog.fetch()), sessions: quiet(api.listSessions(0, 50)) };
}

async function enterChat(early = null) {
  document.body.dataset.view = "chat";
  hideBanner();
  if (!catalog.loaded) {
    try {
      const { configured } = await catalog.load(early?.catalog);
      if (!configured) showBanner(t("errModelNotConfigured"), "model");
    } catch (err) {
      showBanner(describeError(err));
    }
  }
  const id = idFromUrl() ?? savedId();
  const open = id ? openSession(id) : Promise.resolve(conversation.newChat());
  await Promise.all([loadSessions(false, early?.sessions), open, organise.folders.load().catch(() => {})]);
  if (!navigator.onLine) showBanner(t("errOffline"), "offline");
  document.body.dataset.ready = "true";
  composer.focus();
  startLive({ conversation, refreshList: () => loadSessions() });
}

async function start() {
  translate();
  fillHelp($("shortcut-list"));
  setupPrefs($("theme-toggle"), $("lang-toggle"));
  const early = prefetch();
  let user = null;
  try {
    user = await auth.check();
  } catch (err) {
    user = {}; // the server could not say: show the chat with the problem
    showBanner(describeError(err));
  }
  if (user) await enterChat(early);
  else document.body.dataset.ready = "true";
}

start();
