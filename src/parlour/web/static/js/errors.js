// What to tell people for each error: chosen by its code (i18n.js ERROR_KEYS), never by
// the server's English sentence; a known `retry_after` is told as a wait.
import { ERROR_KEYS, hasText, t, waitText } from "./i18n.js";

/**
 * Text for an ApiError, a stream `failure` event's data, or a stored message's error:
 * anything with `code` and, when known, `retry_after` (seconds) and `message`.
 */
export function describeError(err) {
  const code = err?.code ?? "internal_error";
  const detail = typeof err?.message === "string" ? err.message : "";
  const seconds = Number(err?.retry_after);
  const wait = Number.isFinite(seconds) && seconds > 0 ? waitText(seconds) : null;
  const key = ERROR_KEYS[code] ?? (/^http_5/.test(code) ? "errInternal" : null);
  if (!key) return detail ? t("errGeneric", { detail }) : t("errInternal");
  if (wait && hasText(`${key}After`)) return t(`${key}After`, { wait });
  const text = t(key, { detail: detail || code });
  return wait ? `${text} ${t("retryIn", { wait })}` : text;
}
