// A reply's Markdown, rendered as it grows, at a cost that does not grow with it.
//
// The text is split into top-level blocks (paragraphs, lists, code fences, tables...).
// A block followed by another block is finished: it is rendered (and its code
// highlighted) once, and its DOM nodes are kept from then on. Only the text after
// the last finished block is lexed and rendered again on each update, and the
// result is merged into the nodes already shown (morph) rather than replacing
// them, so text on screen stays the same DOM: a selection survives, and a
// button under the pointer is still the one clicked. Every rendered piece still
// goes through renderBlocks(), so through DOMPurify.
//
// finish() makes the last render equal to a full render of the whole text: if the
// whole text splits into the same finished blocks it renders only the rest,
// otherwise (a reference link defined late, say) it renders everything and
// merges that in.
import { lexBlocks, renderBlocks } from "./markdown.js";

/** Make `old` look like `fresh`, keeping `old` (and its descendants) where they match. */
function morph(old, fresh) {
  if (old.nodeType !== fresh.nodeType || old.nodeName !== fresh.nodeName) return fresh;
  if (old.nodeType === Node.TEXT_NODE || old.nodeType === Node.COMMENT_NODE) {
    const before = old.data;
    const after = fresh.data;
    if (before !== after) {
      // Appending keeps a selection inside the text node where it was.
      if (after.startsWith(before)) old.appendData(after.slice(before.length));
      else old.data = after;
    }
    return old;
  }
  if (old.nodeType !== Node.ELEMENT_NODE) return fresh;
  for (const { name } of [...old.attributes]) {
    if (!fresh.hasAttribute(name)) old.removeAttribute(name);
  }
  for (const { name, value } of fresh.attributes) {
    if (old.getAttribute(name) !== value) old.setAttribute(name, value);
  }
  morphChildren(old, [...old.childNodes], [...fresh.childNodes]);
  return old;
}

/** Morph `olds` (children of `parent`, in order) into `freshes`; returns the nodes now shown. */
function morphChildren(parent, olds, freshes, before = null) {
  const kept = [];
  for (let i = 0; i < freshes.length; i++) {
    if (i < olds.length) {
      const node = morph(olds[i], freshes[i]);
      if (node !== olds[i]) parent.replaceChild(node, olds[i]);
      kept.push(node);
    } else {
      const anchor = kept.length ? kept.at(-1).nextSibling : before;
      parent.insertBefore(freshes[i], anchor);
      kept.push(freshes[i]);
    }
  }
  for (let i = freshes.length; i < olds.length; i++) olds[i].remove();
  return kept;
}

// Offsets into the text must match the blocks' raw source, which marked gives with
// line ends as \n.
const normalize = (text) => (text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text);

export class StreamRender {
  constructor(container) {
    this.container = container;
    this.reset();
  }

  /** Forget what was rendered (the container is about to be emptied or rebuilt). */
  reset() {
    this.text = "";
    this.stable = 0; // text[0:stable] is rendered as finished blocks
    this.finished = []; // the raw source of each finished block, in order
    this.live = []; // the nodes shown for text[stable:]
  }

  /** Show `text`, which usually extends the text shown before. */
  update(text) {
    text = normalize(text);
    if (!text.startsWith(this.text.slice(0, this.stable))) this.restart();
    this.text = text;
    const tokens = lexBlocks(text.slice(this.stable));
    let last = tokens.length - 1;
    while (last >= 0 && tokens[last].type === "space") last--;
    // Blocks before the last one are finished: rendered once more, highlighted, and kept.
    const done = last > 0 ? tokens.slice(0, last) : [];
    const growing = tokens.slice(Math.max(last, 0));
    const doneNodes = done.length ? [...renderBlocks(done).childNodes] : [];
    const growingNodes = growing.length ? [...renderBlocks(growing, { highlight: false }).childNodes] : [];
    const shown = morphChildren(this.container, this.live, [...doneNodes, ...growingNodes]);
    this.live = shown.slice(doneNodes.length);
    for (const token of done) {
      this.finished.push(token.raw);
      this.stable += token.raw.length;
    }
  }

  /** The reply ended: show `text` exactly as a full render of it would. */
  finish(text) {
    text = normalize(text);
    if (!text.startsWith(this.text.slice(0, this.stable))) this.restart();
    this.text = text;
    const tokens = lexBlocks(text);
    const same =
      Object.keys(tokens.links ?? {}).length === 0 &&
      this.finished.length <= tokens.length &&
      this.finished.every((raw, i) => tokens[i].raw === raw);
    if (same) {
      const rest = tokens.slice(this.finished.length);
      this.live = morphChildren(this.container, this.live, [...renderBlocks(rest).childNodes]);
    } else {
      const all = [...this.container.childNodes];
      this.live = morphChildren(this.container, all, [...renderBlocks(tokens).childNodes]);
      this.finished = [];
      this.stable = 0;
    }
    for (const token of tokens.slice(this.finished.length)) {
      this.finished.push(token.raw);
      this.stable += token.raw.length;
    }
    this.live = [];
  }

  restart() {
    this.reset();
    this.container.replaceChildren();
  }
}
