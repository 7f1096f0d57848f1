// What to tell people for each error code: always polite, never a raw stack.
import { t } from "./i18n.js";

const KEYS = {
  offline: "errOffline",
  model_not_configured: "errModelNotConfigured",
  upstream_unavailable: "errUnavailable",
  upstream_error: "errUnavailable",
  upstream_timeout: "errTimeout",
  upstream_rejected: "errRejected",
  storage_unavailable: "errStorage",
  reply_in_progress: "errBusy",
  message_too_long: "errTooLong",
  not_found: "errNotFound",
  http_404: "errNotFound",
  connection_lost: "errLost",
  reply_interrupted: "errInterrupted",
  internal_error: "errInternal",
  unauthorized: "errSignIn",
  http_401: "errSignIn",
  forbidden: "errForbidden",
  http_403: "errForbidden",
  rate_limited: "errTooMany",
  http_429: "errTooMany",
  http_500: "errInternal",
};

/** Message for an ApiError, a stream `error` event's data, or a stored message's error code. */
export function describeError(err) {
  const code = err?.code ?? "internal_error";
  const detail = typeof err?.message === "string" ? err.message : "";
  if (code === "upstream_rate_limited") {
    return err.retryAfter ? t("errRateLimitedAfter", { seconds: err.retryAfter }) : t("errRateLimited");
  }
  if (code === "invalid_input" || code === "unknown_persona" || code === "unknown_model") {
    return t("errInvalid", { detail: detail || code });
  }
  if (KEYS[code]) return t(KEYS[code]);
  return detail ? t("errGeneric", { detail }) : t("errInternal");
}
