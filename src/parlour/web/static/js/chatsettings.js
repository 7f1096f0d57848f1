// The chat settings panel: a conversation's own sampling parameters and extra system
// prompt (GET/PATCH /api/v1/sessions/{id}/settings). An empty field is "not set": the
// persona's value applies, else the server's default (the field's placeholder says
// which). Below them, today's usage (usage.js).
import { request } from "./api.js";
import { describeError } from "./errors.js";
import { t } from "./i18n.js";
import { toast } from "./notify.js";
import { readSampling, SAMPLING as FIELDS } from "./sampling.js";
import { showUsage } from "./usage.js";

const $ = (id) => document.getElementById(id);
const path = (sid) => `/sessions/${encodeURIComponent(sid)}/settings`;

function fill(values) {
  for (const name of [...FIELDS, "system_prompt"]) {
    const input = $(`param-${name}`);
    input.value = values[name] ?? "";
    const fallback = values.defaults?.[name];
    const persona = values.persona?.[name];
    if (name !== "system_prompt") {
      input.placeholder =
        persona != null ? t("paramFromPersona", { value: persona })
        : fallback == null ? t("paramProviderDefault") : t("paramDefault", { value: fallback });
    }
  }
}

/** What the form says, as a PATCH body: every field, null where empty. */
function read() {
  const body = readSampling("param-");
  body.system_prompt = $("param-system_prompt").value || null;
  return body;
}

function showError(err) {
  const box = $("chat-settings-error");
  box.hidden = !err;
  // The server's sentence names the field and its range; the code picks the language.
  box.textContent = err ? `${describeError(err)} ${err.code === "invalid_input" ? err.message : ""}`.trim() : "";
}

/** Wire the panel; `currentSession()` gives the open conversation (or null for a new chat). */
export function setupChatSettings(currentSession) {
  const dialog = $("chat-settings");
  const controls = () => dialog.querySelectorAll(".param-grid input, textarea, #chat-settings-save, #chat-settings-reset");
  let sid = null;

  async function open() {
    const session = currentSession();
    sid = session?.id ?? null;
    const note = $("chat-settings-note");
    note.dataset.i18n = sid ? "chatParamsNote" : "chatParamsNoSession";
    note.textContent = t(note.dataset.i18n);
    showError(null);
    fill({});
    for (const el of controls()) el.disabled = !sid;
    dialog.showModal();
    showUsage($("usage-table"));
    if (!sid) return;
    try {
      const values = await (await request(path(sid))).json();
      if (sid === currentSession()?.id) fill(values);
    } catch (err) {
      showError(err);
    }
  }

  async function save(body) {
    if (!sid) return;
    try {
      const response = await request(path(sid), { method: "PATCH", body });
      fill(await response.json());
      showError(null);
      dialog.close();
      toast(t("paramsSaved"));
    } catch (err) {
      showError(err);
    }
  }

  $("chat-settings-open").addEventListener("click", open);
  $("chat-settings-save").addEventListener("click", () => save(read()));
  $("chat-settings-reset").addEventListener("click", () => {
    save(Object.fromEntries([...FIELDS, "system_prompt"].map((name) => [name, null])));
  });
  $("chat-settings-form").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.tagName === "INPUT") {
      event.preventDefault();
      save(read());
    }
  });
}
