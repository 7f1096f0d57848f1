// Line icons drawn as inline SVG (built with DOM calls, no markup strings).
// The built-in personas get drawn icons so they never depend on an emoji font;
// other personas fall back to their emoji.

const SVG_NS = "http://www.w3.org/2000/svg";

const PATHS = {
  copy: ["M9 9h10v10H9z", "M5 15V5h10"],
  edit: ["M4 20h4L19 9l-4-4L4 16v4z"],
  rename: ["M4 20h4L19 9l-4-4L4 16v4z"],
  delete: ["M4 7h16", "M9 7V4h6v3", "M6 7l1 13h10l1-13"],
  regenerate: ["M20 11a8 8 0 1 0-2.3 5.7", "M20 4v7h-7"],
  "prev-version": ["M15 6l-6 6 6 6"],
  "next-version": ["M9 6l6 6-6 6"],
  "delete-version": ["M4 7h16", "M9 7V4h6v3", "M6 7l1 13h10l1-13", "M10 11v5M14 11v5"],
  continue: ["M5 5l7 7-7 7", "M13 5l7 7-7 7"],
  more: ["M5 12h.01M12 12h.01M19 12h.01"],
  pin: ["M9 4h6l-1 6 4 4H6l4-4z", "M12 14v6"],
  folder: ["M3 6h6l2 2h10v11H3z"],
  assistant: ["M4 5h16v11H9l-5 4z", "M8 10h.01M12 10h.01M16 10h.01"],
  teacher: ["M2 9l10-5 10 5-10 5z", "M6 11v5c3 2 9 2 12 0v-5", "M22 9v6"],
  programmer: ["M8 7l-5 5 5 5", "M16 7l5 5-5 5", "M13.5 5l-3 14"],
};

export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.classList.add("icon");
  for (const d of PATHS[name] ?? []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/** The avatar content for a persona ({id, icon}) or for an unknown one. */
export function personaIcon(persona) {
  if (persona && PATHS[persona.id]) return icon(persona.id);
  const span = document.createElement("span");
  span.textContent = persona?.icon || "AI";
  return span;
}
