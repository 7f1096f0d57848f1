// The import dialog: upload a file (with its progress), follow the import, show the report.
import { request } from "./api.js";
import { describeError } from "./errors.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 400;
const REPORT_LIMIT = 500;

function csrfToken() {
  const match = /(?:^|;\s*)parlour_csrf=([^;]+)/.exec(document.cookie);
  return match ? decodeURIComponent(match[1]) : null;
}

function setProgress(fraction, text) {
  const bar = $("import-progress");
  bar.hidden = false;
  bar.value = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
  $("import-status").textContent = text;
}

/** POST the file as the body; resolves to the started job (XMLHttpRequest: upload progress). */
function upload(file) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/imports?filename=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    const csrf = csrfToken();
    if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const percent = Math.round((e.loaded / e.total) * 100);
      setProgress(e.loaded / e.total, t("importUploading", { percent }));
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: keep the status
      }
      if (xhr.status === 202 && body) resolve(body);
      else reject(body?.error ?? { code: `http_${xhr.status}` });
    };
    xhr.onerror = () => reject({ code: "offline" });
    xhr.send(file);
  });
}

async function follow(job) {
  for (;;) {
    if (job.status !== "running") return job;
    const percent = Math.round((job.done_bytes / Math.max(job.total_bytes, 1)) * 100);
    setProgress(job.done_bytes / Math.max(job.total_bytes, 1),
      t("importReading", { percent, conversations: job.conversations }));
    await new Promise((r) => setTimeout(r, POLL_MS));
    job = await (await request(`/imports/${encodeURIComponent(job.id)}`)).json();
  }
}

const OUTCOMES = {
  imported: "importOutcomeImported",
  skipped: "importOutcomeSkipped",
  duplicate: "importOutcomeDuplicate",
};

function entryItem(entry) {
  const li = document.createElement("li");
  li.className = `import-entry import-${entry.outcome}`;
  const title = document.createElement("span");
  title.className = "import-entry-title";
  title.textContent = entry.title || t("importUntitled");
  const outcome = document.createElement("span");
  outcome.className = "import-entry-outcome";
  let text = t(OUTCOMES[entry.outcome]);
  if (entry.code) text += ` — ${describeError({ code: entry.code, message: entry.reason })}`;
  outcome.textContent = text;
  li.append(title, outcome);
  if (entry.not_imported?.length) {
    const lost = document.createElement("span");
    lost.className = "import-entry-lost";
    lost.textContent = t("importNotImported", { items: entry.not_imported.join(", ") });
    li.append(lost);
  }
  return li;
}

async function showReport(job) {
  const list = $("import-report");
  list.replaceChildren();
  const page = await (await request(`/imports/${encodeURIComponent(job.id)}/report?limit=${REPORT_LIMIT}`)).json();
  for (const entry of page.items) list.append(entryItem(entry));
  $("import-report-title").hidden = page.items.length === 0;
}

async function run(file, onImported) {
  $("import-start").disabled = true;
  $("import-report").replaceChildren();
  $("import-report-title").hidden = true;
  $("import-summary").textContent = "";
  try {
    const job = await follow(await upload(file));
    setProgress(1, "");
    if (job.status === "failed") {
      $("import-summary").textContent = t("importFailed", { reason: describeError(job.error) });
    } else {
      $("import-summary").textContent = `${t("importDone", job)} ${t("importCounts", {
        skipped: job.skipped, duplicates: job.duplicates, lost: job.not_imported,
      })}`;
    }
    await showReport(job);
    if (job.imported > 0) onImported();
  } catch (err) {
    $("import-progress").hidden = true;
    $("import-status").textContent = "";
    $("import-summary").textContent = describeError(err);
  } finally {
    $("import-start").disabled = !$("import-file").files.length;
  }
}

/** Wire the sidebar's Import button and the dialog; `onImported` reloads the list. */
export function setupImport({ onImported }) {
  const dialog = $("import-dialog");
  const input = $("import-file");
  $("import-open").addEventListener("click", () => {
    $("import-start").disabled = !input.files.length;
    dialog.showModal();
  });
  input.addEventListener("change", () => {
    $("import-start").disabled = !input.files.length;
  });
  $("import-start").addEventListener("click", (event) => {
    event.preventDefault();
    if (input.files.length) run(input.files[0], onImported);
  });
}
