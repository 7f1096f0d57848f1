// The share dialog: make a read-only link to a conversation as it is now (optionally
// with the owner's username, optionally expiring), then copy it.
import { api } from "./api.js";
import { describeError } from "./errors.js";
import { t } from "./i18n.js";
import { copyText, toast } from "./notify.js";
import { titleOf } from "./sidebar.js";

const $ = (id) => document.getElementById(id);
const DAY = 86_400;
const accounts = () => document.querySelector('meta[name="parlour:auth-mode"]')?.content !== "none";

let session = null;

export function openShare(target) {
  session = target;
  $("share-title").textContent = t("shareTitle", { title: titleOf(target) });
  $("share-name-row").hidden = !accounts();
  $("share-name").checked = false;
  $("share-expiry").value = "0";
  $("share-result").hidden = true;
  $("share-error").hidden = true;
  $("share-create").disabled = false;
  $("share-dialog").showModal();
}

async function create() {
  $("share-create").disabled = true;
  $("share-error").hidden = true;
  try {
    const days = Number($("share-expiry").value);
    const share = await api.share(session.id, {
      show_name: $("share-name").checked,
      expires_in: days ? days * DAY : null,
    });
    $("share-link").value = new URL(share.path, location.origin).href;
    $("share-result").hidden = false;
    $("share-link").select();
  } catch (err) {
    $("share-error").textContent = describeError(err);
    $("share-error").hidden = false;
  }
  $("share-create").disabled = false;
}

export function setupShare() {
  $("share-create").addEventListener("click", create);
  $("share-copy").addEventListener("click", async () => {
    toast((await copyText($("share-link").value)) ? t("copied") : t("copyFailed"));
  });
}
