// The message box: grows with its text; Enter sends, Shift+Enter adds a line,
// and Enter that confirms an IME composition (Chinese, Japanese...) never sends.

import { t } from "./i18n.js";
import { charCount, maxMessageChars } from "./limits.js";

const MAX_HEIGHT_PX = 240;
const COUNT_FROM = 0.8; // the counter shows from this share of the limit on

export class Composer {
  constructor({ form, input, send, stop, counter }, { onSend, onStop }) {
    this.counter = counter;
    this.form = form;
    this.input = input;
    this.sendButton = send;
    this.stopButton = stop;
    this.busy = false;
    this.composing = false;

    input.addEventListener("compositionstart", () => { this.composing = true; });
    input.addEventListener("compositionend", () => { this.composing = false; });
    input.addEventListener("input", () => this.resize());
    input.addEventListener("input", () => this.count());
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.altKey) return;
      if (event.isComposing || event.keyCode === 229 || this.composing) return;
      event.preventDefault();
      this.submit();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    stop.addEventListener("click", () => onStop());
    this.onSend = onSend;
    this.resize();
  }

  submit() {
    const text = this.input.value;
    if (this.busy || !text.trim()) return;
    this.onSend(text);
  }

  get value() {
    return this.input.value;
  }

  set value(text) {
    this.input.value = text;
    this.resize();
    this.count();
  }

  /** Near the server's limit, say how many characters there are (and mark going over). */
  count() {
    if (!this.counter || !maxMessageChars) return;
    const text = this.input.value;
    const near = text.length >= maxMessageChars * COUNT_FROM;
    const length = near ? charCount(text) : 0;
    this.counter.hidden = !near || length < maxMessageChars * COUNT_FROM;
    if (this.counter.hidden) return;
    this.counter.textContent = t("charCount", {
      length: length.toLocaleString(),
      max: maxMessageChars.toLocaleString(),
    });
    this.counter.classList.toggle("over", length > maxMessageChars);
  }

  resize() {
    const el = this.input;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT_PX)}px`;
    el.classList.toggle("scrolls", el.scrollHeight > MAX_HEIGHT_PX);
  }

  /** While a reply streams, Send becomes Stop (the box stays editable for the next message). */
  setBusy(busy) {
    this.busy = busy;
    const hadFocus = document.activeElement === this.sendButton || document.activeElement === this.stopButton;
    this.sendButton.hidden = busy;
    this.stopButton.hidden = !busy;
    if (hadFocus) (busy ? this.stopButton : this.input).focus();
  }

  focus() {
    this.input.focus();
  }
}
