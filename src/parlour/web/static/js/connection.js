// "You appear to be offline" goes away by itself: when the browser says it is back
// online, when any request gets through again, or when a gentle probe of the
// server answers (the network can come back without the browser noticing).
import { onReachable } from "./api.js";
import { t } from "./i18n.js";
import { bannerKindNow, hideBanner, showBanner } from "./notify.js";

const PROBE_MS = [2000, 4000, 8000, 15000, 30000];

export function setupConnection() {
  let timer = 0;
  let attempt = 0;
  const back = () => {
    clearTimeout(timer);
    timer = 0;
    attempt = 0;
    hideBanner("offline");
  };
  const probe = async () => {
    timer = 0;
    if (bannerKindNow() !== "offline") return;
    try {
      const response = await fetch("/healthz", { cache: "no-store" });
      if (response.ok) return back();
    } catch {
      // Still unreachable.
    }
    schedule();
  };
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(probe, PROBE_MS[Math.min(attempt++, PROBE_MS.length - 1)]);
  };
  window.addEventListener("offline", () => {
    showBanner(t("errOffline"), "offline");
    schedule();
  });
  window.addEventListener("online", back);
  onReachable((reachable) => {
    if (reachable) {
      if (bannerKindNow() === "offline") back();
    } else schedule();
  });
}
