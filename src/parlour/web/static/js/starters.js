// A persona's starter prompts, offered on an empty conversation: one click sends one.

/** Fill `box` with `persona`'s starters; `send(text)` is called with the one clicked. */
export function showStarters(box, persona, send) {
  const buttons = (persona?.starters ?? []).map((text) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "starter";
    button.textContent = text;
    button.addEventListener("click", () => send(text));
    return button;
  });
  box.replaceChildren(...buttons);
  box.hidden = buttons.length === 0;
}
