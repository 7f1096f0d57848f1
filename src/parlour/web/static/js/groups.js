// The sidebar's groups: pinned conversations first, then the rest by when they were
// last active (Today, Yesterday, Previous 7 days, Previous 30 days, then by month), in
// the reader's time zone and language.
import { lang, t } from "./i18n.js";

const DAY = 86_400_000;
const FIXED = {
  pinned: "pinned",
  today: "groupToday",
  yesterday: "groupYesterday",
  week: "groupWeek",
  month: "groupMonth",
};

/** The group of a conversation last active at `seconds` (Unix time), seen at `now`. */
export function groupKey(seconds, now = new Date()) {
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const at = seconds * 1000;
  if (at >= today) return "today";
  if (at >= today - DAY) return "yesterday";
  if (at >= today - 7 * DAY) return "week";
  if (at >= today - 30 * DAY) return "month";
  const d = new Date(at);
  return `m${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

export function groupLabel(key) {
  if (FIXED[key]) return t(FIXED[key]);
  const [year, month] = key.slice(1).split("-").map(Number);
  const format = new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en", { year: "numeric", month: "long" });
  return format.format(new Date(year, month - 1, 1));
}

/** [{ key, label, items }] in the order the sidebar shows them. */
export function groupSessions(sessions, now = new Date()) {
  const groups = new Map();
  const add = (key, session) => {
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(session);
  };
  for (const s of sessions) if (s.pinned) add("pinned", s);
  const rest = sessions.filter((s) => !s.pinned).sort((a, b) => b.updated_at - a.updated_at);
  for (const s of rest) add(groupKey(s.updated_at, now), s);
  return [...groups].map(([key, items]) => ({ key, label: groupLabel(key), items }));
}
