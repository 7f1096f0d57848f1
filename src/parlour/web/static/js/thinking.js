// A reasoning model's thinking, above its answer: a folded block, "Thought for 12 s".
// Open while the model thinks (the text grows in it), folded once the answer begins or
// the reply ends; the reader's own opening or folding is kept from then on. Plain text:
// nothing here assigns innerHTML.
import { t } from "./i18n.js";

function summaryText(view) {
  if (view.thinkingLive) return t("thinkingNow");
  const seconds = view.reasoningSeconds;
  return seconds == null ? t("thoughtShort") : t("thoughtFor", { seconds: Math.max(1, Math.round(seconds)) });
}

/**
 * Show `text` as the view's thinking. `live`: the model is thinking now (the block stays
 * open); `seconds`: how long it thought, once known.
 */
export function showThinking(view, text, { live = false, seconds } = {}) {
  view.reasoning = text;
  if (seconds !== undefined) view.reasoningSeconds = seconds;
  if (!view.built) return; // shown when it is built
  if (!text) {
    view.thinking?.remove();
    view.thinking = null;
    return;
  }
  if (!view.thinking) {
    const details = document.createElement("details");
    details.className = "thinking";
    const summary = document.createElement("summary");
    const body = document.createElement("div");
    body.className = "thinking-text";
    details.append(summary, body);
    details.addEventListener("toggle", () => {
      if (!view.thinkingLive) view.thinkingOpened = details.open; // the reader's choice
    });
    view.bubble.before(details);
    view.thinking = details;
  }
  const wasLive = view.thinkingLive;
  view.thinkingLive = live;
  view.thinking.querySelector(".thinking-text").textContent = text.trim();
  view.thinking.querySelector("summary").textContent = summaryText(view);
  view.thinking.classList.toggle("live", live);
  if (live) view.thinking.open = true;
  else if (wasLive || view.thinkingOpened === undefined) view.thinking.open = Boolean(view.thinkingOpened);
  if (view.role === "assistant" && !view.text && !view.typing) view.bubble.hidden = true;
}

/** More thinking streamed in (`show` puts the reply on screen if it is not yet). */
export function thinkingGrows(view, text, show) {
  show();
  view.setTyping(false);
  showThinking(view, text, { live: !view.text });
}

/** The answer has begun, or the reply ended: the thinking folds and says how long it took. */
export function endThinking(view, seconds) {
  if (view.reasoning) showThinking(view, view.reasoning, { seconds });
}

/** The language changed: the summary's words change too. */
export function relabelThinking(view) {
  if (view.thinking) view.thinking.querySelector("summary").textContent = summaryText(view);
}
