// Organising conversations: pin, archive, folders, several at once, delete and clear
// with Undo (deleted ones wait in the trash), and sharing. Wires the sidebar's menu,
// folders, the Select mode and the list dialogs to the API.
import { api } from "./api.js";
import { Bulk } from "./bulk.js";
import { askName, confirmAction } from "./dialog.js";
import { describeError } from "./errors.js";
import { Folders } from "./folders.js";
import { t } from "./i18n.js";
import { Lists } from "./lists.js";
import { showMenu } from "./menu.js";
import { showBanner, toast } from "./notify.js";
import { openShare, setupShare } from "./share.js";
import { titleOf } from "./sidebar.js";
import { offerUndo, setupUndo } from "./undo.js";

const $ = (id) => document.getElementById(id);

export function setupOrganise({ sidebar, conversation, loadSessions, openSession }) {
  let folders = null;
  let bulk = null;
  const refresh = () => Promise.all([loadSessions(), folders.load()]);
  const guarded = async (work) => {
    try {
      await work();
      return true;
    } catch (err) {
      showBanner(describeError(err));
      return false;
    }
  };

  const restoreAll = (ids) =>
    guarded(async () => {
      for (const id of ids) await api.restoreSession(id);
      await refresh();
      toast(t("restored"));
    });

  /** Do `action` to the conversations `ids`; true when it was done. */
  function run(action, ids, folderId = null) {
    return guarded(async () => {
      const one = ids.length === 1;
      if (one && (action === "pin" || action === "unpin")) await api.flag(ids[0], "pin", action === "pin");
      else if (one && (action === "archive" || action === "unarchive")) {
        await api.flag(ids[0], "archive", action === "archive");
      } else if (one && action === "move") await api.move(ids[0], folderId);
      else await api.bulk(action, ids, folderId);
      if (action === "delete") {
        if (ids.includes(conversation.session?.id)) conversation.newChat();
        offerUndo(t("deleted"), () => restoreAll(ids));
      } else if (action === "archive") {
        offerUndo(t("archived"), () => run("unarchive", ids));
      } else if (action === "move") toast(t("moved"));
      await refresh();
    });
  }

  function menu(session, anchor) {
    const items = [
      session.pinned
        ? { label: t("unpin"), action: "unpin", run: () => run("unpin", [session.id]) }
        : { label: t("pin"), action: "pin", run: () => run("pin", [session.id]) },
      { label: t("archive"), action: "archive", run: () => run("archive", [session.id]) },
    ];
    for (const f of folders.folders) {
      if (f.id !== session.folder_id) {
        items.push({ label: t("moveTo", { name: f.name }), action: `move:${f.id}`, run: () => run("move", [session.id], f.id) });
      }
    }
    if (session.folder_id) items.push({ label: t("moveOut"), action: "move-out", run: () => run("move", [session.id], null) });
    items.push({ label: t("share"), action: "share", run: () => openShare(session) });
    items.push({ label: t("select"), action: "select", run: () => bulk.start() });
    showMenu(anchor, items);
  }

  async function remove(session) {
    const ok = await confirmAction({
      title: t("deleteTitle"),
      text: t("deleteText", { title: titleOf(session) }),
      ok: t("delete"),
    });
    if (ok) await run("delete", [session.id]);
  }

  async function clearHistory() {
    const session = conversation.session;
    if (!session || conversation.messages.views.length === 0) return;
    const ok = await confirmAction({ title: t("clearTitle"), text: t("clearText"), ok: t("clearOk") });
    if (!ok) return;
    await guarded(async () => {
      await conversation.clear();
      offerUndo(t("cleared"), () =>
        guarded(async () => {
          await api.restoreMessages(session.id);
          if (conversation.session?.id === session.id) {
            conversation.newChat();
            await openSession(session.id);
          }
          toast(t("restored"));
        }),
      );
    });
  }

  folders = new Folders($("folder-list"), sidebar, {
    onMove: (id, folderId) => run("move", [id], folderId),
    onRename: async (folder) => {
      const name = await askName({ title: t("renameFolder"), value: folder.name });
      if (name && name !== folder.name) await guarded(async () => (await api.renameFolder(folder.id, name), refresh()));
    },
    onDelete: async (folder) => {
      const ok = await confirmAction({
        title: t("deleteFolderTitle"),
        text: t("deleteFolderText", { name: folder.name }),
        ok: t("delete"),
      });
      if (ok) await guarded(async () => (await api.deleteFolder(folder.id), refresh()));
    },
  });
  bulk = new Bulk(sidebar, folders, run);
  const lists = new Lists({ changed: refresh, open: openSession });
  $("new-folder").addEventListener("click", async () => {
    const name = await askName({ title: t("newFolder") });
    if (name) await guarded(async () => (await api.createFolder(name), refresh()));
  });
  $("show-archived").addEventListener("click", () => lists.show("archived"));
  $("show-trash").addEventListener("click", () => lists.show("trash"));
  $("show-shares").addEventListener("click", () => lists.show("shares"));
  $("share-chat").addEventListener("click", () => conversation.session && openShare(conversation.session));
  setupShare();
  setupUndo();

  return {
    folders,
    refresh,
    remove,
    clearHistory,
    /** The sidebar's events: a row's menu, a drop out of a folder, a new selection. */
    onAction(kind, session, anchor) {
      if (kind === "menu") menu(session, anchor);
      else if (kind === "drop") run("move", [session.id], null);
      else if (kind === "selection") bulk.update();
      else if (kind === "rendered") folders?.render();
    },
    clear() {
      if (sidebar.selecting) bulk.stop();
      folders.clear();
    },
  };
}
