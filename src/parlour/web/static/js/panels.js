// The panels beside the chat: its settings, the user's memory, personas, importing.
import { setupChatSettings } from "./chatsettings.js";
import { setupImport } from "./importer.js";
import { setupMemory } from "./memory.js";
import { setupPersonas } from "./personas.js";

const $ = (id) => document.getElementById(id);

/** Wire them all; returns the memory panel (the page tells it which session is shown). */
export function setupPanels({ conversation, catalog, showWelcome, loadSessions }) {
  setupChatSettings(() => conversation.session);
  setupPersonas(catalog, { select: $("persona-select"), onChanged: () => showWelcome() });
  setupImport({ onImported: () => loadSessions(false) });
  return setupMemory($("messages"));
}
