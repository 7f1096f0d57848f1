// A toast with an Undo button, for a while after a delete, a clear or an archive.
import { t } from "./i18n.js";

const SHOWN_MS = 10_000;
let timer = 0;
let pending = null;

function close() {
  clearTimeout(timer);
  document.getElementById("undo-toast").hidden = true;
  pending = null;
}

/** Show `text` with Undo; `undo` runs if the reader presses it within a few seconds. */
export function offerUndo(text, undo) {
  const box = document.getElementById("undo-toast");
  box.querySelector(".undo-text").textContent = text;
  box.querySelector(".undo-btn").textContent = t("undo");
  pending = undo;
  box.hidden = false;
  clearTimeout(timer);
  timer = setTimeout(close, SHOWN_MS);
}

export function setupUndo() {
  document.querySelector("#undo-toast .undo-btn").addEventListener("click", async () => {
    const undo = pending;
    close();
    if (undo) await undo();
  });
}
