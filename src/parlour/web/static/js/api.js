// The /api/v1 client: JSON in, JSON out, and one error type for every failure.

export const BASE = "/api/v1";

/**
 * A failed request: `code` is the server's error code, or "offline" when the network failed;
 * `retry_after` (seconds, or null) as in a stream's failure event.
 */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retry_after = retryAfter;
  }
}

export function isAbort(err) {
  return err?.name === "AbortError";
}

async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || "";
  let after = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  try {
    const body = await response.json();
    code = body?.error?.code ?? code;
    message = body?.detail ?? body?.error?.message ?? message;
    after = Number(body?.error?.retry_after ?? after);
  } catch {
    // Not JSON (a proxy's error page, say): keep the status.
  }
  return new ApiError(response.status, code, message, Number.isFinite(after) ? after : null);
}

// With password sign-in, a change made with the sign-in cookie must echo the
// CSRF cookie in a header (the server sets that cookie readable for this).
function csrfToken() {
  const match = /(?:^|;\s*)parlour_csrf=([^;]+)/.exec(document.cookie);
  return match ? decodeURIComponent(match[1]) : null;
}

let onSignedOut = null;
const reachability = new Set();

/** Call `fn(true)` whenever a request reaches the server, `fn(false)` when one cannot. */
export function onReachable(fn) {
  reachability.add(fn);
}

function reached(yes) {
  for (const fn of reachability) fn(yes);
}

/** Call `fn` when a request answers 401 (the sign-in ended): the page shows the sign-in screen. */
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

/** fetch() that turns network failures into ApiError("offline") and lets aborts through. */
export async function request(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, signal };
  const csrf = method === "GET" ? null : csrfToken();
  if (csrf) init.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (err) {
    if (isAbort(err)) throw err;
    reached(false);
    throw new ApiError(0, "offline", "network error");
  }
  reached(true);
  if (!response.ok) {
    const err = await errorFrom(response);
    if (err.status === 401 && !path.startsWith("/auth/")) onSignedOut?.(err);
    throw err;
  }
  return response;
}

async function json(path, options) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

const enc = encodeURIComponent;

export const api = {
  me: () => json("/auth/me"),
  signIn: (username, password) => json("/auth/login", { method: "POST", body: { username, password } }),
  signUp: (fields) => json("/auth/signup", { method: "POST", body: fields }),
  signOut: () => json("/auth/logout", { method: "POST" }),
  personas: () => json("/personas"),
  createPersona: (fields) => json("/personas", { method: "POST", body: fields }),
  updatePersona: (id, fields) => json(`/personas/${enc(id)}`, { method: "PATCH", body: fields }),
  deletePersona: (id) => json(`/personas/${enc(id)}`, { method: "DELETE" }),
  duplicatePersona: (id) => json(`/personas/${enc(id)}/duplicate`, { method: "POST" }),
  exportPersona: (id) => json(`/personas/${enc(id)}/export`),
  importPersona: (file) => json("/personas/import", { method: "POST", body: file }),
  previewPrompt: (prompt, language) =>
    json("/personas/preview", { method: "POST", body: { system_prompt: prompt, language } }),
  models: () => json("/models"),
  setDefaultModel: (model) => json("/models/default", { method: "PUT", body: { model } }),
  search: (q, { offset = 0, limit = 20, ...filters } = {}, signal) =>
    json(`/search?${new URLSearchParams({ q, offset, limit, ...filters })}`, { signal }),
  listSessions: (offset = 0, limit = 50) => json(`/sessions?offset=${offset}&limit=${limit}`),
  createSession: (fields) => json("/sessions", { method: "POST", body: fields }),
  getSession: (id) => json(`/sessions/${enc(id)}`),
  updateSession: (id, fields) => json(`/sessions/${enc(id)}`, { method: "PATCH", body: fields }),
  deleteSession: (id) => json(`/sessions/${enc(id)}`, { method: "DELETE" }),
  messages: (id, offset, limit) =>
    json(`/sessions/${enc(id)}/messages?offset=${offset}&limit=${limit}`),
  clearMessages: (id) => json(`/sessions/${enc(id)}/messages`, { method: "DELETE" }),
  summary: (id) => json(`/sessions/${enc(id)}/summary`),
  editSummary: (id, text) => json(`/sessions/${enc(id)}/summary`, { method: "PUT", body: { text } }),
  switchSummary: (id, enabled) =>
    json(`/sessions/${enc(id)}/summary/enabled`, { method: "PUT", body: { enabled } }),
  memory: () => json("/memory"),
  switchMemory: (enabled) => json("/memory", { method: "PATCH", body: { enabled } }),
  addFact: (text) => json("/memory/facts", { method: "POST", body: { text } }),
  editFact: (id, text) => json(`/memory/facts/${enc(id)}`, { method: "PATCH", body: { text } }),
  deleteFact: (id) => json(`/memory/facts/${enc(id)}`, { method: "DELETE" }),
  restoreMessages: (id) => json(`/sessions/${enc(id)}/messages/restore`, { method: "POST" }),
  archived: (offset = 0, limit = 100) => json(`/sessions?view=archived&offset=${offset}&limit=${limit}`),
  /** pin / archive: `on` true puts it, false takes it off. */
  flag: (id, what, on) => json(`/sessions/${enc(id)}/${what}`, { method: on ? "PUT" : "DELETE" }),
  move: (id, folderId) => json(`/sessions/${enc(id)}/folder`, { method: "PUT", body: { folder_id: folderId } }),
  bulk: (action, ids, folderId = null) =>
    json("/sessions/bulk", { method: "POST", body: { action, session_ids: ids, ...(action === "move" ? { folder_id: folderId } : {}) } }),
  folders: () => json("/folders"),
  folderSessions: (id) => json(`/folders/${enc(id)}/sessions?limit=200`),
  createFolder: (name) => json("/folders", { method: "POST", body: { name } }),
  renameFolder: (id, name) => json(`/folders/${enc(id)}`, { method: "PATCH", body: { name } }),
  deleteFolder: (id) => json(`/folders/${enc(id)}`, { method: "DELETE" }),
  trash: () => json("/trash?limit=200"),
  restoreSession: (id) => json(`/trash/${enc(id)}/restore`, { method: "POST" }),
  purge: (id) => json(`/trash/${enc(id)}`, { method: "DELETE" }),
  emptyTrash: () => json("/trash", { method: "DELETE" }),
  share: (id, fields) => json(`/sessions/${enc(id)}/shares`, { method: "POST", body: fields }),
  shares: () => json("/shares"),
  revokeShare: (id) => json(`/shares/${enc(id)}`, { method: "DELETE" }),
  stopReply: (id) => json(`/sessions/${enc(id)}/reply/stop`, { method: "POST" }),

  /**
   * Send a message; resolves to the event-stream response (errors before streaming throw).
   * With `replaceFrom` (a user message's id) the message is an edit of that one: a new
   * version beside it, with a reply of its own (the old version is kept).
   */
  send: (id, content, { persona, replaceFrom } = {}, signal) => {
    const body = { content };
    if (persona) body.persona = persona;
    if (replaceFrom) body.replace_from = replaceFrom;
    return request(`/sessions/${enc(id)}/messages`, {
      method: "POST",
      body,
      headers: { Accept: "text/event-stream" },
      signal,
    });
  },

  /** Write a reply again (`messageId`, or the last one): a new version. Streams like send. */
  regenerate: (id, messageId, signal) =>
    request(`/sessions/${enc(id)}/reply/regenerate`, {
      method: "POST",
      body: messageId ? { message_id: messageId } : {},
      headers: { Accept: "text/event-stream" },
      signal,
    }),

  /** Show the branch through message `messageId` (down to its newest message). */
  switchBranch: (id, messageId) =>
    request(`/sessions/${enc(id)}/branch`, { method: "PUT", body: { message_id: messageId } }),

  /** Delete message `messageId` and everything after it (one version). */
  deleteBranch: (id, messageId) =>
    request(`/sessions/${enc(id)}/messages/${enc(messageId)}`, { method: "DELETE" }),

  /** Follow reply `replyId` (named by GET session while it runs) after event `after`. */
  follow: (id, { replyId, after, signal } = {}) => {
    const query = new URLSearchParams();
    if (replyId) query.set("reply_id", replyId);
    if (after) query.set("after", String(after));
    const qs = query.toString();
    return request(`/sessions/${enc(id)}/reply${qs ? `?${qs}` : ""}`, {
      headers: { Accept: "text/event-stream" },
      signal,
    });
  },
};
