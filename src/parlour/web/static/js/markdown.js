// Markdown to safe DOM. Model text is untrusted: raw HTML in it is shown as
// text, everything marked produces is run through DOMPurify with an allow-list,
// links open in a new tab without referrer, and images from other origins wait
// for a click (a prompt injection must not be able to leak data via image URLs).
import { Marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.js";
import hljs from "../vendor/highlight.min.js";
import { t } from "./i18n.js";
import { fillMaths, mathExtension } from "./maths.js";

const escapeHtml = (s) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

// Highlighting is the costly part of a render: a code block still being streamed
// is shown plain and highlighted once, when it is finished (see stream-render.js).
let highlighting = true;

const marked = new Marked({ gfm: true, breaks: true });
marked.use(mathExtension);
marked.use({
  renderer: {
    html: ({ text }) => escapeHtml(text),
    code({ text, lang }) {
      const language = (lang || "").trim().split(/\s+/)[0].toLowerCase();
      const known = language && hljs.getLanguage(language);
      const body = known && highlighting
        ? hljs.highlight(text, { language, ignoreIllegals: true }).value
        : escapeHtml(text);
      const cls = known ? ` class="hljs language-${escapeHtml(language)}"` : ' class="hljs"';
      const label = escapeHtml(language || "");
      return `<pre data-lang="${label}"><code${cls}>${body}</code></pre>\n`;
    },
  },
});

const PURIFY = {
  ALLOWED_TAGS: [
    "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "input", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
    "sup", "table", "tbody", "td", "th", "thead", "tr", "ul", "div",
  ],
  ALLOWED_ATTR: [
    "href", "title", "alt", "src", "class", "align", "start", "type", "checked", "disabled",
    "colspan", "rowspan", "data-lang", "data-math",
  ],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  } else if (node.nodeName === "IMG") {
    // Still inside DOMPurify's inert document: move src aside before the node is
    // imported into the page, where setting src would start a request.
    const src = node.getAttribute("src");
    node.removeAttribute("src");
    if (src) node.setAttribute("data-src", src);
  } else if (node.nodeName === "INPUT") {
    if (node.getAttribute("type") !== "checkbox") node.remove();
    else {
      node.setAttribute("disabled", "");
      // A task's checkbox is named by its task (screen readers say "checked" themselves).
      const task = (node.closest("li")?.textContent ?? "").trim().slice(0, 200);
      node.setAttribute("aria-label", task || t("task"));
    }
  }
});

function allowedImage(src) {
  try {
    const url = new URL(src, location.href);
    if (url.protocol === "data:") return /^data:image\/(png|gif|jpe?g|webp);/i.test(src);
    return url.origin === location.origin;
  } catch {
    return false;
  }
}

function placeholderFor(img, src) {
  let host = "";
  try {
    const url = new URL(src, location.href);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    host = url.host;
  } catch {
    return null;
  }
  const button = document.createElement("button");
  button.type = "button";
  button.className = "img-placeholder";
  button.dataset.action = "load-image";
  button.dataset.src = src;
  button.dataset.alt = img.getAttribute("alt") || "";
  button.title = t("imageBlocked");
  button.textContent = t("loadImage", { host });
  return button;
}

function finishImages(fragment) {
  for (const img of fragment.querySelectorAll("img")) {
    const src = img.getAttribute("data-src") || "";
    img.removeAttribute("data-src");
    if (src && allowedImage(src)) {
      img.setAttribute("src", src);
      img.setAttribute("loading", "lazy");
      continue;
    }
    const placeholder = src ? placeholderFor(img, src) : null;
    if (placeholder) img.replaceWith(placeholder);
    else img.remove();
  }
}

/** Swap a click-to-load placeholder for its image (the reader asked for it). If the
 * image cannot load here (a Content-Security-Policy may allow only this origin's
 * images), offer it as a link to open in a new tab instead. */
export function loadImage(button) {
  const src = button.dataset.src;
  const img = document.createElement("img");
  img.alt = button.dataset.alt || "";
  img.referrerPolicy = "no-referrer";
  img.addEventListener("error", () => {
    const link = document.createElement("a");
    link.href = src;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.className = "img-link";
    link.textContent = img.alt ? `${img.alt} (${src})` : src;
    img.replaceWith(link);
  }, { once: true });
  img.src = src;
  button.replaceWith(img);
}

function decorateCode(fragment) {
  for (const pre of fragment.querySelectorAll("pre")) {
    const wrap = document.createElement("div");
    wrap.className = "code-block";
    const head = document.createElement("div");
    head.className = "code-head";
    const label = document.createElement("span");
    label.className = "code-lang";
    label.textContent = pre.dataset.lang || "text";
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "code-copy";
    copy.dataset.action = "copy-code";
    copy.textContent = t("copy");
    copy.setAttribute("aria-label", t("copyCode"));
    head.append(label, copy);
    pre.tabIndex = 0; // code that scrolls sideways can be scrolled with the keyboard
    pre.replaceWith(wrap);
    wrap.append(head, pre);
  }
  for (const table of fragment.querySelectorAll("table")) {
    const scroll = document.createElement("div");
    scroll.className = "table-scroll";
    scroll.tabIndex = 0;
    table.replaceWith(scroll);
    scroll.append(table);
  }
}

/** Split Markdown into its top-level blocks (marked tokens; each has its `raw` source). */
export function lexBlocks(text) {
  return marked.lexer(text);
}

/**
 * Render blocks from lexBlocks() to a sanitized DocumentFragment. With `highlight`
 * false, code is shown plain (for a block that is still growing).
 */
export function renderBlocks(tokens, { highlight = true } = {}) {
  highlighting = highlight;
  let html;
  try {
    html = marked.parser(tokens);
  } finally {
    highlighting = true;
  }
  const fragment = DOMPurify.sanitize(html, PURIFY);
  finishImages(fragment);
  decorateCode(fragment);
  fillMaths(fragment);
  return fragment;
}

/** Render untrusted Markdown to a sanitized DocumentFragment. */
export function renderMarkdown(text) {
  return renderBlocks(lexBlocks(text));
}
