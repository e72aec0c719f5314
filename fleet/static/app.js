// The operators' dashboard: plain DOM, no framework, no build step, nothing from outside.
"use strict";

const API = "/api/v1";
const PAGE = 50;
const COMMANDS = [
  ["out_of_service", "Out of service"],
  ["back_in_service", "Back in service"],
  ["restart_app", "Restart app"],
  ["reboot", "Reboot"],
  ["refetch_catalog", "Re-fetch catalog"],
  ["upload_logs", "Upload logs"],
];
const CONFIRM = ["reboot", "restart_app", "out_of_service"];
const FILTERS = [["search", "filter-search"], ["region", "filter-region"], ["site", "filter-site"],
  ["tag", "filter-tag"], ["state", "filter-state"], ["software_version", "filter-version"],
  ["alert", "filter-alert"]];
const state = { user: null, selected: null, timer: null, offset: 0, total: 0, bulk: null, skew: 0 };

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function row(cells) {
  const tr = el("tr");
  for (const cell of cells) {
    const td = el("td");
    if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell ?? "";
    tr.appendChild(td);
  }
  return tr;
}

// Server time now, from the last answer's server_time (the operator's clock may be off).
function serverNow() { return Date.now() / 1000 + state.skew; }
function noteServerTime(t) { if (t) state.skew = t - Date.now() / 1000; }

function when(t) {
  if (!t) return "never";
  const age = serverNow() - t;
  if (age < 90) return `${Math.max(0, Math.round(age))} s ago`;
  if (age < 5400) return `${Math.round(age / 60)} min ago`;
  return new Date(t * 1000).toLocaleString();
}

function dueText(due) {
  if (due === null || due === undefined) return "the kiosk is not beating (offline or stopped)";
  const left = Math.round(due - serverNow());
  return left >= 0 ? `next heartbeat due in ${left} s` : `next heartbeat overdue by ${-left} s`;
}

// What a command's status means for the operator, in words.
function commandText(c, due) {
  const detail = c.ack_detail || "";
  switch (c.status) {
    case "queued": return `queued: waiting for the next heartbeat (${dueText(due)})`;
    case "delivered": return `delivered: waiting for the kiosk to carry it out (${dueText(due)})`;
    case "acknowledged": return `acknowledged${detail ? ` (${detail})` : ""}: waiting to see it take effect (${dueText(due)})`;
    case "done": return `done${detail ? `: ${detail}` : ""}`;
    case "failed": return detail.startsWith("failed") ? detail : `failed: ${detail}`;
    default: return c.status;
  }
}

// Software updates as the kiosk's last heartbeat told them.
function updateText(u) {
  if (!u) return "";
  const slot = u.slot ? ` in slot ${u.slot}` : "";
  // The updater's state stays "staged" once the kiosk runs that release: nothing more to say.
  const busy = u.phase && u.phase !== "idle" && u.target_version !== u.running_version;
  const phase = busy ? ` · updater: ${u.phase}${u.target_version ? ` ${u.target_version}` : ""}` : "";
  const r = u.last_result;
  const last = r ? ` · last update: ${r.outcome.replaceAll("_", " ")} ${r.version}${r.reason ? ` (${r.reason})` : ""}, ${when(r.at)}` : "";
  return `Software ${u.running_version}${slot}${phase}${last}`;
}

async function call(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(API + path, opts);
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && path !== "/session") { showSignIn(); throw new Error("signed out"); }
  if (!res.ok) { const e = new Error(data.error || res.statusText); e.data = data; throw e; }
  noteServerTime(data.server_time);
  return data;
}

function showSignIn() {
  state.user = null;
  clearInterval(state.timer);
  $("fleet-view").hidden = true;
  $("whoami").hidden = true;
  $("sign-in-view").hidden = false;
}

async function showFleet(user) {
  state.user = user;
  $("user-name").textContent = user.username;
  $("user-role").textContent = user.role;
  $("whoami").hidden = false;
  $("sign-in-view").hidden = true;
  $("fleet-view").hidden = false;
  $("audit-panel").hidden = user.role !== "admin";
  $("agents-panel").hidden = !["operator", "admin"].includes(user.role);  // not a hall agent
  if (!$("agents-panel").hidden) refreshAgents().catch((e) => { $("agents-error").textContent = e.message; });
  $("bulk").hidden = user.role === "viewer";
  $("tags-form").hidden = user.role === "viewer";
  await refresh();
  clearInterval(state.timer);
  state.timer = setInterval(refresh, 5000);
}

function fillSelect(select, values) {
  const current = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const v of values) select.add(new Option(v, v));
  select.value = values.includes(current) ? current : "";
}

function filters() {
  const f = {};
  for (const [name, id] of FILTERS) if ($(id).value) f[name] = $(id).value.trim();
  return f;
}

async function refresh() {
  const f = filters();
  const summary = await call("GET", "/fleet?" + new URLSearchParams(f));
  for (const s of ["up", "degraded", "down", "offline"]) $("count-" + s).textContent = summary.counts[s];
  fillSelect($("filter-region"), summary.regions);
  const region = $("filter-region").value;
  fillSelect($("filter-site"), [...new Set(summary.sites.filter(([r]) => !region || r === region).map(([, s]) => s))]);
  fillSelect($("filter-tag"), summary.tags);
  fillSelect($("filter-version"), summary.software_versions);
  const q = new URLSearchParams({ ...filters(), limit: PAGE, offset: state.offset });
  const { kiosks, total } = await call("GET", "/kiosks?" + q);
  state.total = total;
  drawKiosks(kiosks, total);
  await refreshAlerts();
  if (state.bulk) await refreshBulk();
  if (state.selected) await selectKiosk(state.selected);
  if (state.user && state.user.role === "admin") await refreshAudit();
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

function drawKiosks(kiosks, total) {
  const body = $("kiosks").tBodies[0];
  body.replaceChildren();
  for (const k of kiosks) {
    const link = el("a", k.kiosk_id);
    link.href = "#" + encodeURIComponent(k.kiosk_id);
    link.addEventListener("click", (e) => { e.preventDefault(); selectKiosk(k.kiosk_id); });
    const tags = el("span");
    for (const t of k.tags) tags.appendChild(el("span", t, "tag"));
    const tr = row([link, `${k.region} / ${k.site}`, tags, el("span", k.state, "badge " + k.state),
      k.software_version || "?", when(k.last_seen), k.problems.join("; ")]);
    tr.dataset.kiosk = k.kiosk_id;
    body.appendChild(tr);
  }
  const first = total ? state.offset + 1 : 0;
  $("kiosk-count").textContent = `(${total} match)`;
  $("page-info").textContent = `${first}–${state.offset + kiosks.length} of ${total}`;
  $("page-prev").disabled = state.offset === 0;
  $("page-next").disabled = state.offset + kiosks.length >= total;
  $("bulk-count").textContent = total;
}

async function refreshAlerts() {
  const { alerts } = await call("GET", "/alerts");
  const body = $("alerts").tBodies[0];
  body.replaceChildren();
  const canAct = state.user && state.user.role !== "viewer";
  const region = $("filter-region").value, site = $("filter-site").value;
  for (const a of alerts.filter((x) => (!region || x.region === region) && (!site || x.site === site))) {
    let action = a.acked_at ? `acked by ${a.acked_by}` : "";
    if (!a.acked_at && canAct) {
      action = el("button", "Acknowledge");
      action.addEventListener("click", async () => { await call("POST", `/alerts/${a.id}/ack`); await refresh(); });
    }
    const tr = row([a.kiosk_id, `${a.kind.replaceAll("_", " ")}: ${a.subject} (${a.detail})`, when(a.raised_at), action]);
    tr.className = "alert " + a.kind + (a.acked_at ? " acked" : "");
    body.appendChild(tr);
  }
}

async function sendBulk() {
  const kind = $("bulk-kind").value;
  const label = COMMANDS.find(([k]) => k === kind)[1];
  const f = filters();
  $("bulk-error").textContent = "";
  if (!confirm(`${label}: all ${state.total} kiosks the filters show?`)) return;
  try {
    const sent = await call("POST", "/commands/bulk", { kind, filter: f, expect: state.total });
    state.bulk = sent.bulk_id;
    await refreshBulk();
  } catch (err) {
    $("bulk-error").textContent = err.message === "fleet_changed"
      ? `The list changed: ${err.data.matching} kiosks match now. Look again, then send.`
      : `Not sent: ${err.message}`;
    await refresh();
  }
}

async function refreshBulk() {
  const { commands, counts } = await call("GET", `/commands/bulk/${state.bulk}`);
  const body = $("bulk-results").tBodies[0];
  body.replaceChildren();
  for (const c of commands) {
    const waiting = { queued: "waiting for its next heartbeat", delivered: "waiting for the kiosk" };
    const tr = row([c.kiosk_id, el("span", c.status, "status " + c.status), c.ack_detail || waiting[c.status] || ""]);
    tr.dataset.kiosk = c.kiosk_id;
    body.appendChild(tr);
  }
  $("bulk-results").hidden = false;
  $("bulk-results").caption?.remove();
  const caption = $("bulk-results").createCaption();
  caption.textContent = Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ");
}

function noneRow(body, columns, text) {
  if (body.rows.length) return;
  const td = el("td", text, "muted");
  td.colSpan = columns;
  body.appendChild(el("tr")).appendChild(td);
}

async function selectKiosk(id) {
  if (state.selected !== id) $("log-view").hidden = true;
  state.selected = id;
  const d = await call("GET", "/kiosks/" + encodeURIComponent(id));
  const k = d.kiosk;
  $("kiosk-detail").hidden = false;
  $("detail-id").textContent = k.kiosk_id;
  $("detail-state").textContent = k.state;
  $("detail-state").className = "badge " + k.state;
  const restarts = k.restarts === null || k.restarts === undefined ? "" : ` · systemd restarts ${k.restarts}`;
  $("detail-meta").textContent = `${k.region} / ${k.site} · ${k.connectivity} · software ${k.software_version || "?"} · catalog ${k.catalog_version || "?"} · last heartbeat ${when(k.last_seen)} · ${dueText(k.next_heartbeat_due)}${restarts}`;
  $("detail-update").textContent = updateText(k.update);
  const wanted = k.wanted_service.replaceAll("_", " ");
  const holds = k.service_state.replaceAll("_", " ");
  $("detail-service").textContent = wanted === holds
    ? `Service: ${wanted} (as the operators want) · ${k.in_service ? "serving citizens" : "not serving citizens"}`
    : `Service: operators want ${wanted}; the kiosk still reports ${holds}: ${dueText(k.next_heartbeat_due)}`;
  if (document.activeElement !== $("tags-input")) $("tags-input").value = k.tags.join(", ");
  const devices = $("devices").tBodies[0];
  devices.replaceChildren();
  for (const dev of k.devices) {
    const supplies = dev.supplies.map((s) => `${s.name}: ${s.level}${s.remaining === null ? "" : ` (${s.remaining})`}`).join(", ");
    devices.appendChild(row([dev.device, el("span", dev.health + (dev.reason ? ` (${dev.reason})` : ""), "health " + dev.health), supplies]));
  }
  await drawPerDay(k.kiosk_id);
  drawCommandButtons(k);
  const commands = $("commands").tBodies[0];
  commands.replaceChildren();
  for (const c of d.commands) {
    const tr = row([c.kind.replaceAll("_", " "), c.issued_by, when(c.issued_at), el("span", commandText(c, k.next_heartbeat_due), "status " + c.status)]);
    tr.dataset.command = c.command_id;
    commands.appendChild(tr);
  }
  const events = $("events").tBodies[0];
  events.replaceChildren();
  for (const e of d.events.slice(0, 30)) {
    const tr = row([when(e.at), e.kind.replaceAll("_", " ") + (e.origin === "server" ? " (seen by the server)" : ""), e.device, e.reason]);
    tr.className = "event " + e.kind + " " + e.severity;
    events.appendChild(tr);
  }
  noneRow(events, 4, "nothing yet");
  const history = $("alert-history").tBodies[0];
  history.replaceChildren();
  for (const a of d.alerts) {
    history.appendChild(row([when(a.raised_at), `${a.kind.replaceAll("_", " ")}: ${a.subject} (${a.detail})`,
      a.cleared_at ? when(a.cleared_at) : "open", a.acked_by ? `${a.acked_by}, ${when(a.acked_at)}` : "—"]));
  }
  noneRow(history, 4, "no alerts");
  noneRow(commands, 4, "no commands");
  drawLogs(k.kiosk_id, d.log_uploads);
}

function drawCommandButtons(k) {
  const buttons = $("command-buttons");
  buttons.replaceChildren();
  if (state.user.role === "viewer") return;
  for (const [kind, label] of COMMANDS) {
    const b = el("button", label);
    b.type = "button";
    b.dataset.kind = kind;
    b.addEventListener("click", async () => {
      if (CONFIRM.includes(kind) && !confirm(`${label}: ${k.kiosk_id}?`)) return;
      await call("POST", `/kiosks/${encodeURIComponent(k.kiosk_id)}/commands`, { kind });
      await selectKiosk(k.kiosk_id);
    });
    buttons.appendChild(b);
  }
}

// A kiosk's log bundle is one JSON object a line (wire/log_lines.py): shown as a person reads
// it, "time LEVEL logger message key=value ...", with a traceback under its line. A line that is
// not such an object (a kiosk from before structured logs) is shown as it came.
const LOG_ENVELOPE = ["ts", "level", "logger", "msg", "exc"];
function logText(text) {
  return text.split("\n").map((raw) => {
    let line;
    try { line = JSON.parse(raw); } catch { return raw; }
    if (!line || typeof line !== "object" || Array.isArray(line)
        || LOG_ENVELOPE.slice(0, 4).some((k) => typeof line[k] !== "string")) return raw;
    const context = Object.keys(line).filter((k) => !LOG_ENVELOPE.includes(k)).sort()
      .map((k) => `${k}=${typeof line[k] === "string" && /[\s"'=]/.test(line[k]) ? JSON.stringify(line[k]) : line[k]}`);
    const head = [line.ts, line.level, line.logger, line.msg, ...context].join(" ");
    return typeof line.exc === "string" && line.exc ? `${head}\n${line.exc}` : head;
  }).join("\n");
}

function drawLogs(kioskId, uploads) {
  const body = $("logs").tBodies[0];
  body.replaceChildren();
  const canRead = state.user.role !== "viewer";
  for (const u of uploads) {
    const actions = el("span");
    if (canRead) {
      const path = `${API}/kiosks/${encodeURIComponent(kioskId)}/logs/${u.id}`;
      const view = el("button", "View");
      view.type = "button";
      view.addEventListener("click", async () => {
        const res = await fetch(path, { credentials: "same-origin" });
        $("log-view").textContent = res.ok ? logText(await res.text()) : `Could not read it: ${res.status}`;
        $("log-view").hidden = false;
      });
      const download = el("a", "Download");
      download.href = path + "?download=1";
      download.className = "download";
      actions.append(view, " ", download);
    }
    body.appendChild(row([when(u.uploaded_at), `${Math.ceil(u.size / 1024)} KB`, actions]));
  }
  noneRow(body, 3, "none: the Upload logs command asks the kiosk for its log");
}

// Completed transactions per day: the statistics' figures for this kiosk (from the transaction
// summaries it reports), the same numbers the Statistics view shows, over the last 14 days.
async function drawPerDay(kioskId) {
  const q = new URLSearchParams({ grain: "day", group: "period", kiosk: kioskId });
  const { rows } = await call("GET", "/statistics?" + q);
  const box = $("per-day");
  box.replaceChildren();
  if (!rows.length) { box.appendChild(el("p", "no transactions reported in the last 14 days", "muted")); return; }
  const value = (d) => d.completed;
  const max = Math.max(1, ...rows.map(value));
  for (const d of rows) {
    const line = el("div", null, "bar-row");
    line.title = `${d.transactions} transactions: ${d.completed} completed, ${d.cancelled} cancelled, ${d.refunded} refunded, ${d.unsettled} unsettled`;
    line.appendChild(el("span", d.period.slice(5), "bar-label"));
    const bar = el("span", null, "bar");
    bar.style.width = `${Math.round((value(d) / max) * 100)}%`;
    line.appendChild(bar);
    line.appendChild(el("span", value(d), "bar-value"));
    box.appendChild(line);
  }
}

function auditDetail(a) {
  const d = a.detail || {};
  return Object.entries(d).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : v}`).join(" ");
}

async function refreshAudit() {
  const { audit } = await call("GET", "/audit");
  const body = $("audit").tBodies[0];
  body.replaceChildren();
  for (const a of audit.slice(0, 30)) {
    body.appendChild(row([when(a.at), a.actor, a.action.replace(":", ": ").replaceAll("_", " "), a.target, a.outcome, auditDetail(a)]));
  }
}

// The server's sign-in refusals (fleet.throttle) in words, with how long to wait.
function signInRefusal(err) {
  const wait = err.data && err.data.retry_after_s ? ` Try again in ${err.data.retry_after_s} s.` : "";
  switch (err.message) {
    case "bad_credentials": return "Wrong user name or password.";
    case "locked_out": return `Too many wrong passwords for this user from this computer.${wait} An administrator can unlock the account.`;
    case "address_throttled": return `Too many failed sign-ins from this computer.${wait}`;
    case "slow_down": return `Someone is guessing this user's password; sign-ins for it are slowed down.${wait}`;
    case "busy": return "The server is busy checking passwords. Try again in a moment.";
    default: return `Sign-in failed: ${err.message}`;
  }
}

function refilter() { state.offset = 0; refresh(); }

document.addEventListener("DOMContentLoaded", async () => {
  $("sign-in-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("sign-in-error").textContent = "";
    try {
      const user = await call("POST", "/session", { username: $("username").value, password: $("password").value });
      $("password").value = "";
      await showFleet(user);
    } catch (err) {
      $("sign-in-error").textContent = signInRefusal(err);
    }
  });
  $("sign-out").addEventListener("click", async () => { await call("DELETE", "/session").catch(() => {}); showSignIn(); });
  for (const [, id] of FILTERS) if (id !== "filter-search") $(id).addEventListener("change", refilter);
  let typing = null;
  $("filter-search").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(refilter, 300); });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); refilter(); });
  $("filter-clear").addEventListener("click", () => { for (const [, id] of FILTERS) $(id).value = ""; refilter(); });
  $("page-prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); refresh(); });
  $("page-next").addEventListener("click", () => { state.offset += PAGE; refresh(); });
  for (const [kind, label] of COMMANDS) $("bulk-kind").add(new Option(label, kind));
  $("bulk-send").addEventListener("click", sendBulk);
  $("tags-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("tags-error").textContent = "";
    const tags = $("tags-input").value.split(",").map((t) => t.trim()).filter(Boolean);
    try {
      await call("PUT", `/kiosks/${encodeURIComponent(state.selected)}/tags`, { tags });
      $("tags-input").blur();
      await refresh();
    } catch (err) {
      $("tags-error").textContent = "Tags are letters, digits, . : _ - (up to 20).";
    }
  });
  try { await showFleet(await call("GET", "/session")); } catch { showSignIn(); }
});
