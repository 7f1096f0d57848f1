// What the server allows in a message, told in the page (index.html carries the
// limit, written by the server), so the box can count and refuse before sending.
import { describeError } from "./errors.js";
import { t } from "./i18n.js";
import { showBanner } from "./notify.js";

const meta = (name) => document.querySelector(`meta[name="parlour:${name}"]`)?.content ?? "";

/** The longest message the server takes, in characters (Unicode code points); null if unknown. */
export const maxMessageChars = Number.parseInt(meta("max-message-chars"), 10) || null;

/** The server counts code points: an emoji or a rare CJK character is one, as people count. */
export function charCount(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The refusal for `text` if it is too long, else null. */
export function tooLong(text) {
  if (!maxMessageChars || text.length <= maxMessageChars) return null; // code points <= code units
  const length = charCount(text);
  return length > maxMessageChars ? t("errTooLongN", { length, max: maxMessageChars }) : null;
}

/** Say so and answer true when `text` is too long to send. */
export function refuseTooLong(text) {
  const refusal = tooLong(text);
  if (refusal) showBanner(refusal);
  return Boolean(refusal);
}

/** What to tell the reader when the server refused to take `text`. */
export function describeRefusal(err, text) {
  if (err?.code !== "message_too_long") return describeError(err);
  const max = maxMessageChars ?? /at most (\d+)/.exec(err.message ?? "")?.[1];
  return max ? t("errTooLongN", { length: charCount(text), max }) : describeError(err);
}
