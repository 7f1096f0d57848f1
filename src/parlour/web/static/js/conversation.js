// The open conversation: load it, send, follow and stop replies, regenerate, edit, clear.
import { api, ApiError } from "./api.js";
import { describeError } from "./errors.js";
import { t } from "./i18n.js";
import { MessageList, MessageView } from "./messages.js";
import { loadImage } from "./markdown.js";
import { announce, copyText, hideBanner, showBanner, toast } from "./notify.js";
import { ReplyStream } from "./reply.js";

const PAGE = 100;

export class Conversation {
  /**
   * hooks: onSession(session|null) when the open session changes or is updated,
   * onBusy(bool), onEmpty(bool), personaForNew() -> persona id for a chat not yet created.
   */
  constructor({ list, scroll, personas, earlier }, hooks) {
    this.messages = new MessageList(list, personas);
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

  /** Open a stored session: its latest messages, then any reply still being written. */
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
    await this.attach(token);
  }

  async loadLatest(token) {
    const id = this.session.id;
    let page = await api.messages(id, 0, PAGE);
    if (page.total > page.items.length) page = await api.messages(id, page.total - PAGE, PAGE);
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

  /** Follow a reply that is already running in this session (after a reload, say). */
  async attach(token) {
    const view = new MessageView("assistant", { persona: this.session.persona });
    const stream = this.follow(view);
    let running = false;
    try {
      running = await stream.attach();
    } catch (err) {
      if (token === this.token) showBanner(describeError(err));
    }
    if (token !== this.token || running) return;
    this.stream = null;
    this.setBusy(false);
    // A reply that ended between loading messages and asking for it: load again.
    if (this.messages.views.at(-1)?.role === "user") await this.loadLatest(token);
  }

  /** Wire a ReplyStream to a (new) assistant view; it becomes the current stream. */
  follow(view) {
    const stream = new ReplyStream(this.session.id, {
      onStart: (data) => {
        view.persona = data.persona ?? view.persona;
        view.label(this.messages.personas);
        if (!view.li.isConnected) this.show(view);
      },
      onText: (text) => {
        if (!view.li.isConnected) this.show(view);
        view.setText(text);
      },
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
    view.setOutcome(result.status, result.error ?? null);
    if (!view.text && result.status === "complete") this.messages.remove(view);
    this.setBusy(false);
    this.changed();
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
    const token = this.token;
    try {
      if (!this.session) {
        this.session = await api.createSession({ persona: this.hooks.personaForNew() });
        this.hooks.onSession(this.session, { activity: true });
      }
    } catch (err) {
      showBanner(describeError(err));
      return false;
    }
    const user = this.messages.add(new MessageView("user", { text }));
    const view = new MessageView("assistant", { persona: this.session.persona });
    const stream = this.follow(view);
    this.show(view);
    this.scroll.toBottom();
    try {
      await stream.send(text);
      return true;
    } catch (err) {
      if (token !== this.token || stream.signal.aborted) return true;
      this.messages.remove(view);
      this.messages.remove(user);
      this.stream = null;
      this.setBusy(false);
      this.changed();
      showBanner(describeError(err));
      if (err instanceof ApiError && err.code === "reply_in_progress") await this.attach(token);
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

  /** Ask again: re-send the last user message (the server appends a new turn). */
  regenerate() {
    const last = this.messages.lastUser();
    if (last) this.send(last.text);
  }

  async edit(view) {
    const text = await view.edit();
    if (text !== null && text !== view.text) await this.send(text);
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
      const ok = await copyText(code);
      toast(ok ? t("copied") : t("copyFailed"));
    } else if (action === "edit" && view) this.edit(view);
    else if (action === "regenerate") this.regenerate();
    else if (action === "load-image") loadImage(button);
  }
}
