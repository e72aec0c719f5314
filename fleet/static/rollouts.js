// Software rollouts: upload a signed bundle, send it to kiosks by region, site, tag and stage,
// pause or abort, and each kiosk's progress. Plain DOM like app.js (its $, el, row, call,
// noneRow, when) and a view of reports.js (REFRESH).
"use strict";

const rolloutState = { selected: null };
const STATUS_WORDS = {
  waiting: "waiting (rollout paused)", queued: "command queued: next heartbeat",
  requested: "requested: the updater starts", downloading: "downloading", verifying: "verifying",
  installing: "installing", staged: "staged: restarts between citizens", postponed: "postponed",
  trial: "on trial", live: "live", rolled_back: "rolled back", refused: "refused",
  failed: "failed", cancelled: "cancelled",
};
const SUMMARY = [["live", "live"], ["in progress", ["queued", "requested", "downloading", "verifying",
  "installing", "staged", "postponed", "trial"]], ["waiting", "waiting"],
  ["rolled back", "rolled_back"], ["refused or failed", ["refused", "failed"]], ["cancelled", "cancelled"]];

function megabytes(n) { return n === null || n === undefined ? "—" : `${(n / 1e6).toFixed(1)} MB`; }

function countOf(counts, which) {
  return [].concat(which).reduce((sum, s) => sum + (counts[s] || 0), 0);
}

function target(r) {
  const parts = [r.region && `region ${r.region}`, r.site && `site ${r.site}`, r.tag && `tag ${r.tag}`];
  return parts.filter(Boolean).join(", ") || "every kiosk";
}

function statusBadge(status) { return el("span", STATUS_WORDS[status] || status, `rstatus ${status}`); }

function progressCell(k) {
  if (k.status !== "downloading" || !k.bytes_total) return el("span", k.bytes_done ? megabytes(k.bytes_done) : "");
  const box = el("span");
  const meter = el("span", null, "meter");
  const fill = el("span", null, "fill");
  fill.style.width = `${Math.min(100, (100 * k.bytes_done) / k.bytes_total).toFixed(0)}%`;
  meter.appendChild(fill);
  box.append(meter, ` ${megabytes(k.bytes_done)} of ${megabytes(k.bytes_total)}`);
  return box;
}

async function refreshRollouts() {
  const operator = state.user && state.user.role !== "viewer";
  $("rollout-forms").hidden = !operator;
  const [{ bundles }, { rollouts }] = await Promise.all([call("GET", "/bundles"), call("GET", "/rollouts")]);
  const bundleBody = $("bundles").tBodies[0];
  bundleBody.replaceChildren();
  const select = $("rollout-bundle");
  const chosen = select.value;
  select.replaceChildren();
  for (const b of bundles) {
    bundleBody.appendChild(row([b.version, el("code", b.digest.slice(0, 16)), megabytes(b.size),
      b.runtime_included ? "with runtime" : "app only", b.uploaded_by, when(b.uploaded_at)]));
    select.add(new Option(`${b.version} (${b.digest.slice(0, 8)})`, b.digest));
  }
  if (chosen) select.value = chosen;
  noneRow(bundleBody, 6, "no bundle uploaded yet");
  const body = $("rollouts").tBodies[0];
  body.replaceChildren();
  for (const r of rollouts) {
    const tr = row([r.version, target(r), `${r.percent}%`, el("span", r.state, `rstate ${r.state}`),
      SUMMARY.map(([label, which]) => `${countOf(r.counts, which)} ${label}`).filter((t) => !t.startsWith("0 ")).join(", ") || "no kiosk yet",
      when(r.created_at)]);
    tr.className = "clickable" + (r.rollout_id === rolloutState.selected ? " selected" : "");
    tr.addEventListener("click", () => { rolloutState.selected = r.rollout_id; refreshRollouts(); });
    body.appendChild(tr);
  }
  noneRow(body, 6, "no rollout yet");
  if (!rolloutState.selected && rollouts.length) rolloutState.selected = rollouts[0].rollout_id;
  if (rolloutState.selected) await showRollout(rolloutState.selected); else $("rollout-detail").hidden = true;
}

async function showRollout(id) {
  const r = await call("GET", `/rollouts/${encodeURIComponent(id)}`);
  $("rollout-detail").hidden = false;
  $("rollout-title").textContent = `${r.version} to ${target(r)}, stage ${r.percent}%`;
  $("rollout-state").textContent = r.state;
  $("rollout-state").className = `badge rstate ${r.state}`;
  $("rollout-meta").textContent = `started by ${r.created_by} ${when(r.created_at)}; bundle ${r.digest.slice(0, 16)}…`;
  const tiles = $("rollout-tiles");
  tiles.replaceChildren();
  for (const [label, which] of SUMMARY) {
    const tile = el("div", null, `tile rtile ${[].concat(which)[0]}`);
    tile.append(el("span", countOf(r.counts, which), "count"), el("span", label));
    tiles.appendChild(tile);
  }
  const operator = state.user && state.user.role !== "viewer";
  const live = r.state !== "aborted";
  $("rollout-actions").hidden = !operator || !live;
  $("rollout-pause").hidden = r.state !== "active";
  $("rollout-resume").hidden = r.state !== "paused";
  const next = [1, 10, 100].find((p) => p > r.percent);
  $("rollout-stage").hidden = !next;
  $("rollout-stage").textContent = next ? `Next stage: ${next}%` : "";
  $("rollout-stage").dataset.percent = next || "";
  const body = $("rollout-kiosks").tBodies[0];
  body.replaceChildren();
  for (const k of r.kiosks) {
    const tr = row([k.kiosk_id, `${k.region} / ${k.site}`, k.from_version || k.software_version || "—", statusBadge(k.status),
      progressCell(k), k.detail, when(k.status_at)]);
    tr.className = `rkiosk ${k.status}`;
    body.appendChild(tr);
  }
  noneRow(body, 7, "no kiosk in this stage yet");
}

async function rolloutAction(action, body) {
  $("rollout-error").textContent = "";
  try {
    await call("POST", `/rollouts/${encodeURIComponent(rolloutState.selected)}/${action}`, body);
  } catch (e) {
    $("rollout-error").textContent = (e.data && e.data.message) || e.message;
  }
  await refreshRollouts();
}

async function uploadBundle(event) {
  event.preventDefault();
  const file = $("bundle-file").files[0];
  $("upload-result").textContent = "";
  $("upload-result").className = "";
  if (!file) return;
  $("upload-result").textContent = `uploading and checking ${file.name}…`;
  const res = await fetch(API + "/bundles", { method: "POST", body: file, credentials: "same-origin",
    headers: { "Content-Type": "application/octet-stream" } });
  const data = await res.json().catch(() => ({}));
  if (res.ok) {
    $("upload-result").textContent = `${data.version} accepted: signed by release key ${data.key_id}, every file's hash checked`;
  } else {
    $("upload-result").className = "error";
    $("upload-result").textContent = data.error === "bundle_refused"
      ? `refused (${data.reason}): ${data.message}` : (data.message || data.error || res.statusText);
  }
  await refreshRollouts();
}

async function startRollout(event) {
  event.preventDefault();
  $("rollout-form-error").textContent = "";
  const body = { digest: $("rollout-bundle").value, percent: Number($("rollout-percent").value) };
  for (const f of ["region", "site", "tag"]) body[f] = $(`rollout-${f}`).value.trim();
  try {
    const r = await call("POST", "/rollouts", body);
    rolloutState.selected = r.rollout_id;
  } catch (e) {
    $("rollout-form-error").textContent = (e.data && (e.data.message || e.data.reason)) || e.message;
  }
  await refreshRollouts();
}

REFRESH.rollouts = refreshRollouts;

document.addEventListener("DOMContentLoaded", () => {
  $("upload-form").addEventListener("submit", uploadBundle);
  $("rollout-form").addEventListener("submit", startRollout);
  $("rollout-pause").addEventListener("click", () => rolloutAction("pause"));
  $("rollout-resume").addEventListener("click", () => rolloutAction("resume"));
  $("rollout-abort").addEventListener("click", () => {
    if (confirm("Abort this rollout? Kiosks that have their command carry on; the others get none.")) rolloutAction("abort");
  });
  $("rollout-stage").addEventListener("click", (e) => rolloutAction("stage", { percent: Number(e.target.dataset.percent) }));
});
