// The list dialog: archived conversations, the trash, and the reader's share links,
// each row with its own actions (restore, delete for good, copy, revoke).
import { api } from "./api.js";
import { confirmAction } from "./dialog.js";
import { describeError } from "./errors.js";
import { lang, t } from "./i18n.js";
import { copyText, showBanner, toast } from "./notify.js";
import { titleOf } from "./sidebar.js";

const $ = (id) => document.getElementById(id);
const date = (seconds) =>
  new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en", { dateStyle: "medium" }).format(
    new Date(seconds * 1000),
  );

function row(title, note, actions) {
  const li = document.createElement("li");
  li.className = "list-row";
  const text = document.createElement("div");
  text.className = "list-text";
  const name = document.createElement("span");
  name.className = "list-title";
  name.textContent = title;
  const small = document.createElement("span");
  small.className = "list-note";
  small.textContent = note;
  text.append(name, small);
  const tools = document.createElement("div");
  tools.className = "list-actions";
  for (const [label, run, cls = "btn"] of actions) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `${cls} small`;
    b.textContent = label;
    b.setAttribute("aria-label", `${label}: ${title}`);
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await run();
      } catch (err) {
        showBanner(describeError(err));
      }
      b.disabled = false;
    });
    tools.append(b);
  }
  li.append(text, tools);
  return li;
}

export class Lists {
  constructor({ changed, open }) {
    this.changed = changed; // after a restore or a delete: refresh the sidebar
    this.openSession = open;
    this.kind = null;
    $("list-empty-trash").addEventListener("click", () => this.emptyTrash());
  }

  async show(kind) {
    this.kind = kind;
    const titles = { archived: "archivedTitle", trash: "trash", shares: "shareLinks" };
    $("list-title").textContent = t(titles[kind]);
    $("list-note").textContent = kind === "trash" ? t("trashNote") : "";
    $("list-note").hidden = kind !== "trash";
    $("list-empty-trash").hidden = kind !== "trash";
    await this.fill();
    if (!$("list-dialog").open) $("list-dialog").showModal();
  }

  async fill() {
    let rows = [];
    try {
      rows = await this[this.kind]();
    } catch (err) {
      showBanner(describeError(err));
    }
    const empty = { archived: "noArchived", trash: "noTrash", shares: "noShares" };
    $("list-empty").textContent = t(empty[this.kind]);
    $("list-empty").hidden = rows.length > 0;
    $("list-empty-trash").disabled = rows.length === 0;
    $("list-items").replaceChildren(...rows);
  }

  async archived() {
    const page = await api.archived();
    return page.items.map((s) =>
      row(titleOf(s), date(s.updated_at), [
        [t("unarchive"), () => this.after(api.flag(s.id, "archive", false))],
        [t("delete"), () => this.after(api.deleteSession(s.id)), "btn btn-danger"],
      ]),
    );
  }

  async trash() {
    const page = await api.trash();
    return page.items.map((s) =>
      row(titleOf(s), date(s.deleted_at), [
        [t("restore"), () => this.after(api.restoreSession(s.id))],
        [t("deleteForever"), () => this.after(api.purge(s.id)), "btn btn-danger"],
      ]),
    );
  }

  async shares() {
    const { shares } = await api.shares();
    return shares.map((s) => {
      const link = new URL(s.path, location.origin).href;
      const note = s.expires_at ? `${date(s.created_at)} · ${t("expires", { date: date(s.expires_at) })}` : date(s.created_at);
      return row(s.title || t("untitled"), note, [
        [t("shareCopy"), async () => toast((await copyText(link)) ? t("copied") : t("copyFailed"))],
        [t("revoke"), async () => {
          await api.revokeShare(s.id);
          toast(t("revoked"));
          await this.fill();
        }, "btn btn-danger"],
      ]);
    });
  }

  async after(promise) {
    await promise;
    await Promise.all([this.fill(), this.changed()]);
  }

  async emptyTrash() {
    const ok = await confirmAction({ title: t("emptyTrashTitle"), text: t("emptyTrashText"), ok: t("emptyTrash") });
    if (!ok) return;
    await this.after(api.emptyTrash()).catch((err) => showBanner(describeError(err)));
  }
}
