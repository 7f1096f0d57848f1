// Ways to tell the reader something: a banner (problems), a toast (small
// confirmations), and an aria-live region (for screen readers only).

import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
let toastTimer = 0;
let bannerKind = null;

/** Show a problem above the conversation. `kind` lets a later call clear only its own banner. */
export function showBanner(text, kind = "error") {
  if (text === t("errOffline")) kind = "offline"; // it clears itself when the connection returns
  $("banner-text").textContent = text;
  $("banner").dataset.kind = kind;
  $("banner").hidden = false;
  bannerKind = kind;
}

export function bannerKindNow() {
  return bannerKind;
}

export function hideBanner(kind = null) {
  if (kind && kind !== bannerKind) return;
  $("banner").hidden = true;
  bannerKind = null;
}

export function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 2200);
}

export function announce(text) {
  const live = $("live");
  live.textContent = "";
  // A fresh node after a tick makes screen readers speak even the same text twice.
  setTimeout(() => { live.textContent = text; }, 50);
}

/** Copy text with the Clipboard API, falling back where it is unavailable (plain http on a LAN). */
export async function copyText(text) {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Denied: try the fallback below.
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}
