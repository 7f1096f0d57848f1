// Maths in model text: $…$ and \(…\) inline, $$…$$ and \[…\] displayed, drawn by KaTeX.
//
// A marked extension finds the maths before Markdown can eat its backslashes or
// underscores (code spans and fences are lexed first, so code is never touched),
// and leaves a placeholder holding the TeX source as text. fillMaths() then draws
// each placeholder. KaTeX is large, so it is loaded the first time maths appears;
// until then the source is shown as it is. KaTeX's own output is sanitized with a
// profile of its own (it needs inline styles, SVG and MathML, which the Markdown
// allow-list refuses), and \href, \url and friends stay off (trust: false).
import DOMPurify from "../vendor/purify.es.js";

const escapeHtml = (s) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

// $…$ is maths only when it cannot be money: the opening $ is followed by a
// non-space, the closing $ follows a non-space and is not followed by a digit
// ("$5 and $10" stays text), and it stays on one line.
const INLINE = [
  { re: /^\$\$((?:\\[^\n]|[^\\$])+?)\$\$/, display: true },
  { re: /^\\\[((?:[^\n]|\n(?![ \t]*\n))+?)\\\]/, display: true },
  { re: /^\\\(((?:[^\n]|\n(?![ \t]*\n))+?)\\\)/, display: false },
  { re: /^\$(?![\s$])((?:\\[^\n]|[^\\$\n])+?)(?<!\s)\$(?!\d)/, display: false },
];
// A displayed block: $$ or \[ at the start of a line, closed at the end of a line,
// with no blank line inside (an unclosed $$ must not swallow the rest of a reply).
const BLOCK = [
  /^ {0,3}\$\$((?:[^\n]|\n(?![ \t]*\n))+?)\$\$[ \t]*(?:\n+|$)/,
  /^ {0,3}\\\[((?:[^\n]|\n(?![ \t]*\n))+?)\\\][ \t]*(?:\n+|$)/,
];

const slot = (tex, display) =>
  `<span class="math" data-math="${display ? "display" : "inline"}">${escapeHtml(tex.trim())}</span>`;

export const mathExtension = {
  extensions: [
    {
      name: "mathBlock",
      level: "block",
      start(src) {
        const m = /(^|\n) {0,3}(\$\$|\\\[)/.exec(src);
        return m ? m.index + m[1].length : undefined;
      },
      tokenizer(src) {
        for (const re of BLOCK) {
          const m = re.exec(src);
          if (m && m[1].trim()) return { type: "mathBlock", raw: m[0], text: m[1] };
        }
        return undefined;
      },
      renderer: (token) => `<div class="math-block">${slot(token.text, true)}</div>\n`,
    },
    {
      name: "mathInline",
      level: "inline",
      start(src) {
        const i = src.search(/\$|\\[([]/);
        return i === -1 ? undefined : i;
      },
      tokenizer(src) {
        for (const { re, display } of INLINE) {
          const m = re.exec(src);
          if (m && m[1].trim()) return { type: "mathInline", raw: m[0], text: m[1], display };
        }
        return undefined;
      },
      renderer: (token) => slot(token.text, token.display),
    },
  ],
};

const KATEX_OPTIONS = {
  throwOnError: false,
  output: "htmlAndMathml",
  trust: false,
  strict: "ignore",
  maxSize: 50,
  maxExpand: 500,
};

const PURIFY = {
  USE_PROFILES: { html: true, svg: true, mathMl: true },
  FORBID_TAGS: ["a", "img", "image", "use", "style", "form", "input", "button", "textarea", "select",
    "iframe", "object", "embed", "video", "audio", "foreignobject"],
  FORBID_ATTR: ["href", "xlink:href", "src", "action", "formaction", "srcset"],
  RETURN_DOM_FRAGMENT: true,
};

let katex = null;
let loading = null;
const drawn = new Map(); // "D"|"I" + source -> sanitized fragment (a reply re-renders its last block often)
const MAX_DRAWN = 500;

function load() {
  if (loading) return loading;
  const css = new Promise((resolve) => {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("../vendor/katex/katex.min.css", import.meta.url).href;
    link.addEventListener("load", resolve, { once: true });
    link.addEventListener("error", resolve, { once: true });
    document.head.append(link);
  });
  loading = Promise.all([import("../vendor/katex.js"), css])
    .then(([module]) => {
      katex = module.default;
      for (const el of document.querySelectorAll(".math-pending")) draw(el);
    })
    .catch(() => {
      // The source stays shown as text.
    });
  return loading;
}

/** Resolves once KaTeX is loaded and every placeholder on the page is drawn. */
export function mathsReady() {
  return load();
}

function drawing(tex, display) {
  const key = (display ? "D" : "I") + tex;
  let fragment = drawn.get(key);
  if (!fragment) {
    let html;
    try {
      html = katex.renderToString(tex, { ...KATEX_OPTIONS, displayMode: display });
    } catch {
      html = `<code>${escapeHtml(tex)}</code>`;
    }
    // The TeX annotation is dropped: DOMPurify refuses <semantics>/<annotation>,
    // and Copy takes the source from the message itself.
    html = html.replace(/<annotation\b[^>]*>[\s\S]*?<\/annotation>/g, "").replace(/<\/?semantics>/g, "");
    fragment = DOMPurify.sanitize(html, PURIFY);
    if (drawn.size >= MAX_DRAWN) drawn.clear();
    drawn.set(key, fragment);
  }
  return fragment.cloneNode(true);
}

function draw(el) {
  el.classList.remove("math-pending");
  el.replaceChildren(drawing(el.textContent, el.dataset.math === "display"));
}

/** Draw every maths placeholder in `fragment` (or mark it pending until KaTeX loads). */
export function fillMaths(fragment) {
  const slots = fragment.querySelectorAll("[data-math]");
  if (slots.length === 0) return;
  for (const el of slots) {
    if (katex) draw(el);
    else el.classList.add("math-pending");
  }
  if (!katex) load();
}
