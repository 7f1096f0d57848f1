// UI text in Simplified Chinese and English. The language comes from a saved
// choice, else navigator.language; theme-init.js has already set <html lang>.

export const STRINGS = {
  zh: {
    skipToInput: "跳到输入框",
    conversations: "对话列表",
    conversation: "对话内容",
    closeSidebar: "关闭侧边栏",
    openSidebar: "打开侧边栏",
    newChat: "新对话",
    recent: "最近对话",
    noSessions: "还没有对话。",
    loadMore: "加载更多",
    loadEarlier: "加载更早的消息",
    persona: "角色",
    model: "模型",
    clearHistory: "清除历史",
    dismiss: "关闭提示",
    jumpToLatest: "跳到最新消息",
    messageLabel: "消息",
    placeholder: "输入你的消息…",
    send: "发送",
    stop: "停止生成",
    hint: "Enter 发送，Shift+Enter 换行",
    cancel: "取消",
    themeLight: "浅色",
    themeDark: "深色",
    switchToLight: "切换到浅色主题",
    switchToDark: "切换到深色主题",
    langLabel: "English",
    langSwitch: "Switch to English",
    untitled: "新对话",
    rename: "重命名",
    renameLabel: "对话标题",
    delete: "删除",
    deleteTitle: "删除这个对话？",
    deleteText: "“{title}”及其全部消息将被永久删除。",
    clearTitle: "清除对话历史？",
    clearText: "这个对话中的所有消息都将被删除，对话本身会保留。",
    clearOk: "清除",
    cleared: "对话历史已清除",
    deleted: "对话已删除",
    you: "你",
    copy: "复制",
    copied: "已复制",
    copyFailed: "无法复制：浏览器不允许访问剪贴板",
    copyCode: "复制代码",
    edit: "编辑",
    editLabel: "编辑消息",
    saveSend: "保存并发送",
    regenerate: "重新生成",
    previousVersion: "上一个版本",
    nextVersion: "下一个版本",
    versionOf: "第 {n} 个版本，共 {m} 个",
    deleteVersion: "删除此版本",
    deleteVersionTitle: "删除这个版本？",
    deleteVersionText: "这条消息的这个版本及其后的所有消息都将被删除，其他版本会保留。",
    deleteVersionOk: "删除",
    thinking: "正在输入…",
    stopped: "已停止生成",
    replyDone: "{name} 回复：",
    welcome: "你好！我是你的{name}，有什么可以帮助你的吗？",
    loadImage: "加载图片：{host}",
    imageBlocked: "来自其他网站的图片不会自动加载",
    reconnecting: "连接中断，正在重新连接…",
    retry: "重试",
    errOffline: "网络连接已断开。请检查网络后重试。",
    search: "搜索对话",
    searchPlaceholder: "搜索对话…",
    searching: "正在搜索…",
    searchNone: "没有找到“{q}”。",
    errModelNotConfigured:
      "还没有配置模型。请设置 OPENAI_API_KEY（可选 OPENAI_BASE_URL 和 OPENAI_MODEL）以使用兼容 OpenAI 的接口，或用 pip install 'parlour[local]' 安装本地模型，然后重启 Parlour。",
    errRateLimited: "模型服务当前请求过多，请稍等片刻再试。",
    errRateLimitedAfter: "模型服务当前请求过多，请在 {wait}后再试。",
    errUnavailable: "模型服务暂时不可用，或与它的连接中断了。请稍后重试。",
    errTimeout: "模型服务响应超时。请稍后重试。",
    errRejected: "模型服务拒绝了这个请求。",
    errStorage: "暂时无法访问对话存储，请稍后再试。",
    errBusy: "这个对话中还有一条回复正在生成。请等待它完成，或先停止它。",
    errTooLong: "消息太长了。请缩短后再发送。",
    errNotFound: "这个对话不存在，或已被删除。",
    errLost: "与服务器的连接中断，回复可能没有收全。",
    errInternal: "服务器出了点问题，请稍后重试。",
    errSignIn: "需要登录才能使用。请登录后刷新页面。",
    errInterrupted: "生成这条回复的服务器在完成前停止了，已保存目前的内容。可以点击“重新生成”再试一次。",
    errForbidden: "你没有权限执行这个操作。",
    errTooMany: "请求太频繁了，请稍后再试。",
    errTooManyAfter: "请求太频繁了，请在 {wait}后再试。",
    errStorageAfter: "暂时无法访问对话存储，请在 {wait}后再试。",
    retryIn: "请在 {wait}后重试。",
    waitSeconds: "{n} 秒",
    waitMinutes: "{n} 分钟",
    waitHours: "{n} 小时",
    errUnknownPersona: "这个角色不存在，请从列表中选择一个。",
    errUnknownModel: "这个模型在此服务器上不可用，请从列表中选择一个。",
    errNoReply: "这个对话中没有正在生成的回复。",
    errConversationFull: "这个对话的消息已经达到上限。请开始一个新对话，或删除这个对话中的一些分支。",
    errPersonaReadOnly: "这个角色是只读的。复制它，就能得到一个可以编辑的版本。",
    errCrossOrigin: "来自其他网站的请求被拒绝了。",
    errBadRequest: "服务器无法读取这个请求。",
    errNotAllowed: "这里不允许这个操作。",
    errInvalid: "请求无效：{detail}",
    errGeneric: "出错了：{detail}",
    signIn: "登录",
    signUp: "注册账号",
    authModes: "登录或注册",
    authSignInTitle: "登录 Parlour",
    authSignUpTitle: "创建 Parlour 账号",
    username: "用户名",
    password: "密码",
    invite: "邀请码（可选）",
    signOut: "退出登录",
    signedInAs: "当前用户：{name}",
    signedOut: "已退出登录",
    authMissing: "请输入用户名和密码。",
    authBadCredentials: "用户名或密码不正确。",
    authSignupClosed: "这个服务器已关闭注册。请向管理员申请账号。",
    authNeedInvite: "在这个服务器上注册需要邀请码。",
    authBadInvite: "这个邀请码无效，或已经被使用。",
    authDisabled: "这个账号已被停用。请联系管理员。",
    authTaken: "这个用户名已被使用，请换一个。",
    authBadUsername: "用户名需为 3–32 个字母、数字、“.”、“_” 或 “-”。",
    authBadPassword: "密码长度需为 8–256 个字符。",
    authTooManyAfter: "尝试次数太多了，请在 {wait}后再试。",
    authExpired: "登录已失效，请重新登录。",
  },
  en: {
    skipToInput: "Skip to message box",
    conversations: "Conversations",
    conversation: "Conversation",
    closeSidebar: "Close sidebar",
    openSidebar: "Open sidebar",
    newChat: "New chat",
    recent: "Recent",
    noSessions: "No conversations yet.",
    loadMore: "Load more",
    loadEarlier: "Load earlier messages",
    persona: "Persona",
    model: "Model",
    clearHistory: "Clear history",
    dismiss: "Dismiss",
    jumpToLatest: "Jump to latest message",
    messageLabel: "Message",
    placeholder: "Type your message…",
    send: "Send",
    stop: "Stop generating",
    hint: "Enter to send, Shift+Enter for a new line",
    cancel: "Cancel",
    themeLight: "Light",
    themeDark: "Dark",
    switchToLight: "Switch to light theme",
    switchToDark: "Switch to dark theme",
    langLabel: "中文",
    langSwitch: "切换到中文",
    untitled: "New chat",
    rename: "Rename",
    renameLabel: "Conversation title",
    delete: "Delete",
    deleteTitle: "Delete this conversation?",
    deleteText: "“{title}” and all its messages will be deleted for good.",
    clearTitle: "Clear the history?",
    clearText: "Every message in this conversation will be deleted; the conversation stays.",
    clearOk: "Clear",
    cleared: "History cleared",
    deleted: "Conversation deleted",
    you: "You",
    copy: "Copy",
    copied: "Copied",
    copyFailed: "Could not copy: the browser did not allow clipboard access",
    copyCode: "Copy code",
    edit: "Edit",
    editLabel: "Edit message",
    saveSend: "Save and send",
    regenerate: "Regenerate",
    previousVersion: "Previous version",
    nextVersion: "Next version",
    versionOf: "Version {n} of {m}",
    deleteVersion: "Delete this version",
    deleteVersionTitle: "Delete this version?",
    deleteVersionText: "This version of the message and everything after it will be deleted. The other versions are kept.",
    deleteVersionOk: "Delete",
    thinking: "Typing…",
    stopped: "Generation stopped",
    replyDone: "{name} replied:",
    welcome: "Hello! I'm your {name}. How can I help you?",
    loadImage: "Load image from {host}",
    imageBlocked: "Images from other sites are not loaded automatically",
    reconnecting: "Connection lost, reconnecting…",
    retry: "Retry",
    errOffline: "You appear to be offline. Check your connection and try again.",
    search: "Search conversations",
    searchPlaceholder: "Search conversations…",
    searching: "Searching…",
    searchNone: "Nothing found for “{q}”.",
    errModelNotConfigured:
      "No model is configured yet. Set OPENAI_API_KEY (and optionally OPENAI_BASE_URL and OPENAI_MODEL) for an OpenAI-compatible API, or install the local model with pip install 'parlour[local]', then restart Parlour.",
    errRateLimited: "The model service is receiving too many requests. Please wait a moment and try again.",
    errRateLimitedAfter: "The model service is receiving too many requests. Please try again in {wait}.",
    errUnavailable: "The model service is unavailable or the connection to it broke. Please try again shortly.",
    errTimeout: "The model service took too long to answer. Please try again shortly.",
    errRejected: "The model service refused this request.",
    errStorage: "The conversation store cannot be reached right now. Please try again shortly.",
    errBusy: "A reply is still being written in this conversation. Wait for it to finish or stop it first.",
    errTooLong: "That message is too long. Please shorten it and send it again.",
    errNotFound: "This conversation does not exist or was deleted.",
    errLost: "The connection to the server broke; the reply may be incomplete.",
    errInternal: "Something went wrong on the server. Please try again shortly.",
    errSignIn: "Please sign in to continue, then reload the page.",
    errInterrupted: "The server writing this reply stopped before it finished; the text so far was saved. Use Regenerate to try again.",
    errForbidden: "You are not allowed to do that.",
    errTooMany: "Too many requests. Please try again in a moment.",
    errTooManyAfter: "Too many requests — try again in {wait}.",
    errStorageAfter: "The conversation store cannot be reached right now. Please try again in {wait}.",
    retryIn: "Please try again in {wait}.",
    waitSeconds: "{n} s",
    waitMinutes: "{n} min",
    waitHours: "{n} h",
    errUnknownPersona: "This persona does not exist; please choose one from the list.",
    errUnknownModel: "This model is not available on this server; please choose one from the list.",
    errNoReply: "No reply is being written in this conversation.",
    errConversationFull:
      "This conversation holds as many messages as it can. Start a new conversation, or delete some of its branches.",
    errPersonaReadOnly: "This persona is read-only. Duplicate it to make a version of your own.",
    errCrossOrigin: "Requests from other websites are refused.",
    errBadRequest: "The server could not read this request.",
    errNotAllowed: "This is not allowed here.",
    errInvalid: "The request was not valid: {detail}",
    errGeneric: "Something went wrong: {detail}",
    signIn: "Sign in",
    signUp: "Create account",
    authModes: "Sign in or create an account",
    authSignInTitle: "Sign in to Parlour",
    authSignUpTitle: "Create your Parlour account",
    username: "Username",
    password: "Password",
    invite: "Invitation code (optional)",
    signOut: "Sign out",
    signedInAs: "Signed in as {name}",
    signedOut: "Signed out",
    authMissing: "Please enter your username and password.",
    authBadCredentials: "The username or password is not correct.",
    authSignupClosed: "Sign-up is closed on this server. Ask its administrator for an account.",
    authNeedInvite: "Signing up on this server needs an invitation code.",
    authBadInvite: "This invitation code is not valid or was already used.",
    authDisabled: "This account is disabled. Please ask an administrator.",
    authTaken: "This username is taken; please choose another.",
    authBadUsername: "A username has 3–32 letters, digits, “.”, “_” or “-”.",
    authBadPassword: "A password has 8–256 characters.",
    authTooManyAfter: "Too many attempts. Please try again in {wait}.",
    authExpired: "Your sign-in has ended. Please sign in again.",
  },
};

/**
 * The text for each error code the server can send (and the page's own: offline,
 * connection_lost). The page never reads the server's English sentence to choose a
 * text; a test fails when the server has a code this table lacks. A key with an
 * "After" variant (errTooMany / errTooManyAfter) uses it when `retry_after` is known.
 */
export const ERROR_KEYS = {
  internal_error: "errInternal",
  http_500: "errInternal",
  invalid_input: "errInvalid",
  http_400: "errBadRequest",
  http_405: "errNotAllowed",
  unknown_persona: "errUnknownPersona",
  unknown_model: "errUnknownModel",
  message_too_long: "errTooLong",
  body_too_large: "errTooLong",
  not_found: "errNotFound",
  http_404: "errNotFound",
  no_reply_in_progress: "errNoReply",
  conversation_full: "errConversationFull",
  persona_read_only: "errPersonaReadOnly",
  unauthorized: "errSignIn",
  http_401: "errSignIn",
  bad_credentials: "authBadCredentials",
  forbidden: "errForbidden",
  http_403: "errForbidden",
  cross_origin: "errCrossOrigin",
  account_disabled: "authDisabled",
  signup_closed: "authSignupClosed",
  invite_required: "authNeedInvite",
  invite_invalid: "authBadInvite",
  invalid_username: "authBadUsername",
  invalid_password: "authBadPassword",
  username_taken: "authTaken",
  rate_limited: "errTooMany",
  http_429: "errTooMany",
  reply_in_progress: "errBusy",
  reply_interrupted: "errInterrupted",
  storage_unavailable: "errStorage",
  upstream_error: "errUnavailable",
  upstream_unavailable: "errUnavailable",
  upstream_timeout: "errTimeout",
  upstream_rejected: "errRejected",
  upstream_rate_limited: "errRateLimited",
  model_not_configured: "errModelNotConfigured",
  offline: "errOffline",
  connection_lost: "errLost",
};

const KEY = "parlour.lang";
let current = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
const listeners = new Set();

export function lang() {
  return current;
}

/** Whether `key` has a text (in English, which every key has). */
export function hasText(key) {
  return Object.hasOwn(STRINGS.en, key);
}

/** A wait in the reader's language: "12 s", "3 min", "5 h" (rounded up). */
export function waitText(seconds) {
  const s = Math.ceil(seconds);
  if (s < 120) return t("waitSeconds", { n: s });
  if (s < 2 * 3600) return t("waitMinutes", { n: Math.ceil(s / 60) });
  return t("waitHours", { n: Math.ceil(s / 3600) });
}

export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Fill elements marked with data-i18n (text) and data-i18n-attr ("attr:key;attr:key"). */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr, t(key));
    }
  }
}

export function setLang(next) {
  current = next === "zh" ? "zh" : "en";
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  try {
    localStorage.setItem(KEY, current);
  } catch {
    // Not remembered when storage is blocked; the switch still works.
  }
  translate();
  for (const fn of listeners) fn(current);
}

export function onLangChange(fn) {
  listeners.add(fn);
}
