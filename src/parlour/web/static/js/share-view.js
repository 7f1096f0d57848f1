// The shared-conversation page: a read-only snapshot anyone with the link can read,
// rendered like the chat (the same sanitized Markdown). Signed in, the reader can copy
// it into their own account and go on with it there.
import { ApiError, request } from "./api.js";
import { describeError } from "./errors.js";
import { lang, t, translate } from "./i18n.js";
import { renderMarkdown } from "./markdown.js";

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] ?? "");
const path = `/shared/${encodeURIComponent(token)}`;

function messageItem({ role, content }) {
  const li = document.createElement("li");
  li.className = `msg msg-${role}`;
  const main = document.createElement("div");
  main.className = "msg-main";
  const who = document.createElement("h2");
  who.className = role === "user" ? "sr-only" : "msg-byline";
  who.textContent = role === "user" ? t("you") : "AI";
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  const body = document.createElement("div");
  if (role === "user") {
    body.className = "content plain";
    body.textContent = content;
  } else {
    body.className = "content md";
    body.append(renderMarkdown(content));
  }
  bubble.append(body);
  main.append(who, bubble);
  li.append(main);
  return li;
}

function when(seconds) {
  return new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en", {
    dateStyle: "long",
    timeStyle: "short",
  }).format(new Date(seconds * 1000));
}

async function signedIn() {
  try {
    await request("/auth/me");
    return true;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return false;
    throw err;
  }
}

async function continueHere() {
  const button = $("shared-continue");
  button.disabled = true;
  try {
    const response = await request(`${path}/continue`, { method: "POST" });
    const session = await response.json();
    location.assign(`/#/c/${session.id}`);
  } catch (err) {
    button.disabled = false;
    $("shared-error").textContent = describeError(err);
    $("shared-error").hidden = false;
  }
}

async function show() {
  translate();
  let shared;
  try {
    shared = await (await request(path)).json();
  } catch (err) {
    $("shared-missing").hidden = false;
    if (!(err instanceof ApiError && err.status === 404)) {
      $("shared-missing").textContent = describeError(err);
    }
    document.body.dataset.ready = "true";
    return;
  }
  const title = shared.title || t("untitled");
  $("shared-title").textContent = title;
  document.title = `${title} · Parlour`;
  const taken = when(shared.created_at);
  $("shared-meta").textContent = shared.author
    ? t("sharedByOn", { name: shared.author, date: taken })
    : t("sharedOn", { date: taken });
  $("shared-messages").replaceChildren(...shared.messages.map(messageItem));
  $("shared-actions").hidden = false;
  const mine = await signedIn().catch(() => false);
  $("shared-continue").hidden = !mine;
  $("shared-signin").hidden = mine;
  $("shared-continue").addEventListener("click", continueHere);
  document.body.dataset.ready = "true";
}

show();
