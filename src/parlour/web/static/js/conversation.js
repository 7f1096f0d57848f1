// The open conversation: load it, send, follow and stop replies, regenerate, edit, clear.
import { api, ApiError } from "./api.js";
import { describeError } from "./errors.js";
import { deleteVersion, switchVersion } from "./branches.js";
import { t } from "./i18n.js";
import { MessageView } from "./messages.js";
import { MessageList } from "./msglist.js";
import { loadImage } from "./markdown.js";
import { describeRefusal, refuseTooLong } from "./limits.js";
import { sendCreating, setExpanded } from "./msgextras.js";
import { announce, copyText, hideBanner, showBanner, toast } from "./notify.js";
import { ReplyStream } from "./reply.js";
import { endThinking, thinkingGrows } from "./thinking.js";

const PAGE = 100;

export class Conversation {
  /**
   * hooks: onSession(session|null) when the open session changes or is updated,
   * onBusy(bool), onEmpty(bool), personaForNew() -> persona id for a chat not yet created.
   */
  constructor({ list, scroll, personas, earlier }, hooks) {
    this.messages = new MessageList(list, personas, scroll);
    this.scroll = scroll;
    this.earlier = earlier;
    this.hooks = hooks;
    this.session = null;
    this.stream = null;
    this.firstLoaded = 0;
    this.token = 0;
    earlier.addEventListener("click", () => this.loadEarlier());
  }

  get busy() {
    return Boolean(this.stream && !this.stream.ended);
  }

  setBusy(busy) {
    this.messages.refreshActions(busy);
    this.hooks.onBusy(busy);
  }

  changed() {
    this.hooks.onEmpty(this.messages.views.length === 0);
    this.scroll.update();
  }

  /** Leave the current conversation (its reply keeps running on the server). */
  leave() {
    if (this.busy) this.hooks.onLeftRunning?.(this.session?.id);
    this.token++;
    this.stream?.detach();
    this.stream = null;
    this.session = null;
    this.messages.clear();
    this.earlier.hidden = true;
    this.setBusy(false);
    this.changed();
  }

  newChat() {
    this.leave();
    this.hooks.onSession(null);
  }

  /** Open a stored session: its latest messages, then the reply it names as running. */
  async open(id) {
    this.leave();
    const token = this.token;
    const session = await api.getSession(id);
    if (token !== this.token) return;
    this.session = session;
    this.hooks.onSession(session);
    await this.loadLatest(token);
    if (token !== this.token) return;
    this.scroll.toBottom();
    if (session.reply_id) await this.attach(token, session.reply_id);
  }

  /**
   * Show the latest page of messages. The session says how many it holds, so one
   * request fetches the right page; a second is made only if that count was stale.
   */
  async loadLatest(token) {
    const id = this.session.id;
    const latest = (total) => Math.max(0, total - PAGE);
    let page = await api.messages(id, latest(this.session.message_count ?? 0), PAGE);
    if (page.offset !== latest(page.total)) page = await api.messages(id, latest(page.total), PAGE);
    if (token !== this.token) return;
    this.firstLoaded = page.offset;
    this.messages.show(page.items);
    this.earlier.hidden = this.firstLoaded === 0;
    this.changed();
  }

  async loadEarlier() {
    if (!this.session || this.firstLoaded === 0) return;
    const token = this.token;
    const offset = Math.max(0, this.firstLoaded - PAGE);
    const page = await api.messages(this.session.id, offset, this.firstLoaded - offset);
    if (token !== this.token) return;
    const scroller = this.scroll.scroller;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    this.firstLoaded = offset;
    this.messages.prepend(page.items);
    this.earlier.hidden = offset === 0;
    scroller.scrollTop = scroller.scrollHeight - fromBottom; // keep the reader's place
  }

  /**
   * Follow `replyId`, a reply already running in this session (after a reload, or
   * in another tab). While a reply runs, the last stored message is the one it
   * answers; if an assistant message is last, the reply ended and was loaded.
   */
  async attach(token, replyId) {
    if (this.messages.views.at(-1)?.role !== "user") return;
    const view = new MessageView("assistant", { persona: this.session.persona });
    const stream = this.follow(view);
    let running = false;
    try {
      running = await stream.attach(replyId);
    } catch (err) {
      if (token === this.token) showBanner(describeError(err));
    }
    if (token !== this.token || running) return;
    this.stream = null;
    this.setBusy(false);
    await this.loadLatest(token); // it ended and expired meanwhile: the stored messages have it
  }

  /** Look the session up again and follow the reply it names (when a send found one running). */
  async attachRunning(token) {
    try {
      const session = await api.getSession(this.session.id);
      if (token !== this.token) return;
      await this.loadLatest(token);
      if (token === this.token && session.reply_id) await this.attach(token, session.reply_id);
    } catch {
      // The banner already says a reply is running.
    }
  }

  /** Wire a ReplyStream to a (new) assistant view; it becomes the current stream. */
  follow(view, user = null) {
    const stream = new ReplyStream(this.session.id, {
      onStart: (data) => {
        if (user && data.user_message_id) user.id = data.user_message_id;
        view.persona = data.persona ?? view.persona;
        view.model = data.model ?? view.model;
        view.label(this.messages.personas);
        if (!view.li.isConnected) this.show(view);
      },
      onText: (text) => {
        if (!view.li.isConnected) this.show(view);
        if (text && view.thinkingLive) endThinking(view);
        view.setText(text);
      },
      onReasoning: (text) => thinkingGrows(view, text, () => view.li.isConnected || this.show(view)),
      onReconnecting: (on) => (on ? showBanner(t("reconnecting"), "reconnect") : hideBanner("reconnect")),
      onEnd: (result) => this.finish(stream, view, result),
    });
    view.onRender = () => this.scroll.update();
    this.stream = stream;
    return stream;
  }

  show(view) {
    view.setStreaming(true);
    if (!view.text) view.setTyping(true);
    this.messages.add(view);
    this.setBusy(true);
    this.changed();
  }

  async finish(stream, view, result) {
    if (stream !== this.stream) return; // the reader moved on
    view.setTyping(false);
    view.setStreaming(false);
    view.flush();
    if (result.status === "gone") {
      this.stream = null;
      this.setBusy(false);
      await this.loadLatest(this.token);
      return;
    }
    view.id = result.messageId ?? null;
    view.siblings = view.id ? [view.id] : null;
    view.finishReason = result.finishReason ?? null;
    view.setOutcome(result.status, result.error ?? null);
    endThinking(view, result.reasoningSeconds);
    if (!view.text && !view.reasoning && result.status === "complete") this.messages.remove(view);
    this.setBusy(false);
    this.changed();
    if (stream.newVersion) await this.loadLatest(this.token); // show the versions' `< n/m >`
    const name = this.messages.personas.get(view.persona)?.label ?? "AI";
    if (result.error) announce(describeError(result.error));
    else if (view.text) announce(`${t("replyDone", { name })} ${view.text.slice(0, 600)}`);
    this.refreshSession(this.token);
  }

  async refreshSession(token) {
    try {
      const session = await api.getSession(this.session.id);
      if (token === this.token) {
        this.session = session;
        this.hooks.onSession(session, { activity: true });
      }
    } catch {
      // The list catches up on the next load.
    }
  }

  /** Send `text` as a new user message; creates the session first for a new chat. */
  async send(text) {
    if (this.busy) return false;
    hideBanner("error");
    if (refuseTooLong(text)) return false;
    return sendCreating(this, text, new MessageView("user", { text }));
  }

  /**
   * Start a reply: take `removed` views off the end, add `user` (if any) and a new
   * reply view, then `start(stream)`. If the server refuses, the page is put back.
   */
  async begin(start, { user = null, removed = [] } = {}) {
    const token = this.token;
    for (const view of removed) this.messages.remove(view);
    if (user) this.messages.add(user);
    const view = new MessageView("assistant", { persona: this.session.persona });
    const stream = this.follow(view, user);
    this.show(view);
    this.scroll.toBottom();
    try {
      await start(stream);
      return true;
    } catch (err) {
      if (token !== this.token || stream.signal.aborted) return true;
      this.messages.remove(view);
      if (user) this.messages.remove(user);
      for (const old of removed) this.messages.add(old);
      this.stream = null;
      this.setBusy(false);
      this.changed();
      showBanner(describeRefusal(err, user?.text ?? ""));
      if (err instanceof ApiError && err.code === "reply_in_progress") await this.attachRunning(token);
      return false;
    }
  }

  async stop() {
    if (!this.session || !this.stream) return;
    try {
      await api.stopReply(this.session.id);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) showBanner(describeError(err));
    }
  }

  /**
   * Write reply `view` again: the new reply is a new version beside it (the old one
   * stays, one `<` away). Everything after it leaves the screen with it.
   */
  async regenerate(view) {
    if (this.busy || !this.session || !view?.id) return;
    hideBanner("error");
    const removed = [view, ...this.messages.after(view)];
    await this.begin(
      (stream) => {
        stream.newVersion = true;
        return stream.regenerate(view.id);
      },
      { removed },
    );
  }

  /** Edit a user message and send it: a new version beside the old one, with its own reply. */
  async edit(view) {
    const text = await view.edit();
    if (text === null || text === view.text || this.busy || !this.session || !view.id) return;
    hideBanner("error");
    const user = new MessageView("user", { text });
    const removed = [view, ...this.messages.after(view)];
    await this.begin(
      (stream) => {
        stream.newVersion = true;
        return stream.send(text, { replaceFrom: view.id });
      },
      { user, removed },
    );
  }

  async clear() {
    if (!this.session) return;
    await api.clearMessages(this.session.id);
    this.messages.clear();
    this.firstLoaded = 0;
    this.earlier.hidden = true;
    this.changed();
  }

  /** One listener for every button inside messages (they are re-rendered while streaming). */
  async onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const view = button.closest("li.msg")?.view;
    const action = button.dataset.action;
    if (action === "copy" && view) toast((await copyText(view.text)) ? t("copied") : t("copyFailed"));
    else if (action === "copy-code") {
      const code = button.closest(".code-block")?.querySelector("code")?.textContent ?? "";
      toast((await copyText(code)) ? t("copied") : t("copyFailed"));
    } else if (action === "edit" && view) this.edit(view);
    else if (action === "regenerate" && view) this.regenerate(view);
    else if ((action === "prev-version" || action === "next-version") && view) switchVersion(this, view, action);
    else if (action === "delete-version" && view) deleteVersion(this, view);
    else if (action === "continue" && view?.cutOff && !this.busy) this.send(t("continuePrompt"));
    else if (action === "expand" && view) setExpanded(view, !view.expanded);
    else if (action === "load-image") loadImage(button);
  }
}
