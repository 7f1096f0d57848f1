// The `< n/m >` switcher shown on a message that has other versions (edits of a user
// message, regenerations of a reply). Built with DOM calls; labelled for screen readers.
import { api } from "./api.js";
import { confirmAction } from "./dialog.js";
import { describeError } from "./errors.js";
import { t } from "./i18n.js";
import { icon } from "./icons.js";
import { hideBanner, showBanner } from "./notify.js";

function button(action, label, disabled) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "msg-action version-step";
  b.dataset.action = action;
  b.setAttribute("aria-label", label);
  b.title = label;
  b.disabled = disabled;
  b.append(icon(action));
  return b;
}

/** A switcher for `siblings` (ids, oldest first) at `id`, or null when there is one version. */
export function versionSwitcher(id, siblings, { busy = false } = {}) {
  if (!id || !siblings || siblings.length < 2) return null;
  const index = siblings.indexOf(id);
  if (index === -1) return null;
  const n = index + 1;
  const m = siblings.length;
  const group = document.createElement("div");
  group.className = "versions";
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", t("versionOf", { n, m }));
  const count = document.createElement("span");
  count.className = "version-count";
  count.textContent = `${n}/${m}`;
  count.setAttribute("aria-hidden", "true");
  group.append(
    button("prev-version", t("previousVersion"), busy || n === 1),
    count,
    button("next-version", t("nextVersion"), busy || n === m),
  );
  return group;
}

/** The sibling to show for a click on `action`, or null. */
export function siblingFor(view, action) {
  const siblings = view.siblings ?? [];
  const index = siblings.indexOf(view.id);
  if (index === -1) return null;
  const next = action === "prev-version" ? index - 1 : index + 1;
  return siblings[next] ?? null;
}

/** Show the previous or next version of `view` in `conv` (with the newest messages below it). */
export async function switchVersion(conv, view, action) {
  const target = siblingFor(view, action);
  if (!target || conv.busy || !conv.session) return;
  hideBanner("error");
  try {
    await api.switchBranch(conv.session.id, target);
  } catch (err) {
    showBanner(describeError(err));
    return;
  }
  await conv.loadLatest(conv.token);
  const shown = conv.messages.build(conv.messages.views.find((v) => v.id === target));
  shown?.li.querySelector(".versions button:not(:disabled)")?.focus();
}

/** Delete this version of a message and what follows it (after asking). */
export async function deleteVersion(conv, view) {
  if (conv.busy || !conv.session || !view.id) return;
  const ok = await confirmAction({
    title: t("deleteVersionTitle"), text: t("deleteVersionText"), ok: t("deleteVersionOk"),
  });
  if (!ok) return;
  try {
    await api.deleteBranch(conv.session.id, view.id);
  } catch (err) {
    showBanner(describeError(err));
    return;
  }
  await conv.loadLatest(conv.token);
  conv.refreshSession(conv.token);
}
