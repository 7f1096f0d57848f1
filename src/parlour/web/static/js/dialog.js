// A confirmation in a modal <dialog> (focus trapped, Escape cancels), not window.confirm.
import { t } from "./i18n.js";

const dialog = () => document.getElementById("confirm-dialog");

/** Resolves true when the reader confirms. */
export function confirmAction({ title, text, ok }) {
  const el = dialog();
  el.querySelector("#confirm-title").textContent = title;
  el.querySelector("#confirm-text").textContent = text;
  el.querySelector("#confirm-ok").textContent = ok;
  el.querySelector("#confirm-cancel").textContent = t("cancel");
  el.returnValue = "cancel";
  return new Promise((resolve) => {
    el.addEventListener("close", () => resolve(el.returnValue === "ok"), { once: true });
    el.showModal();
    el.querySelector("#confirm-cancel").focus();
  });
}

/** Ask for a name in the name dialog; resolves to the trimmed name, or null if cancelled. */
export function askName({ title, value = "" }) {
  const el = document.getElementById("name-dialog");
  const input = el.querySelector("#name-input");
  el.querySelector("#name-title").textContent = title;
  input.value = value;
  el.returnValue = "cancel";
  return new Promise((resolve) => {
    el.addEventListener(
      "close",
      () => resolve(el.returnValue === "ok" && input.value.trim() ? input.value.trim() : null),
      { once: true },
    );
    el.showModal();
    input.focus();
    input.select();
  });
}
