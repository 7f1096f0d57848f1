// Your usage today, per model (GET /api/v1/usage): shown under the chat settings.
import { request } from "./api.js";
import { t } from "./i18n.js";

function cell(tag, text, numeric = false) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (numeric) node.className = "num";
  return node;
}

function row(tag, values) {
  const tr = document.createElement("tr");
  values.forEach((value, i) => tr.append(cell(tag, value, i > 0)));
  return tr;
}

/** Fill `table` with today's usage (a sentence when there is none). */
export async function showUsage(table) {
  table.replaceChildren();
  let usage;
  try {
    usage = await (await request("/usage?days=1")).json();
  } catch {
    return; // the settings still work without it
  }
  const models = usage.days[0]?.models ?? [];
  if (!models.length) {
    table.append(row("td", [t("usageNone")]));
    return;
  }
  const number = (n) => n.toLocaleString();
  table.append(row("th", [t("usageModel"), t("usagePrompt"), t("usageCompletion"), t("usageReplies")]));
  for (const m of models) {
    table.append(row("td", [m.model, number(m.prompt_tokens), number(m.completion_tokens), number(m.replies)]));
  }
}
