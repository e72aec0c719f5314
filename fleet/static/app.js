// The operators' dashboard: plain DOM, no framework, no build step, nothing from outside.
"use strict";

const API = "/api/v1";
const COMMANDS = [
  ["out_of_service", "Out of service"],
  ["back_in_service", "Back in service"],
  ["restart_app", "Restart app"],
  ["reboot", "Reboot"],
  ["refetch_catalog", "Re-fetch catalog"],
  ["upload_logs", "Upload logs"],
];
const state = { user: null, selected: null, timer: null };

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

function when(t) {
  if (!t) return "never";
  const age = Date.now() / 1000 - t;
  if (age < 90) return `${Math.max(0, Math.round(age))} s ago`;
  if (age < 5400) return `${Math.round(age / 60)} min ago`;
  return new Date(t * 1000).toLocaleString();
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
  if (!res.ok) throw new Error(data.error || res.statusText);
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

function query() {
  const q = new URLSearchParams();
  for (const [name, id] of [["region", "filter-region"], ["site", "filter-site"], ["state", "filter-state"]]) {
    if ($(id).value) q.set(name, $(id).value);
  }
  return q.toString();
}

async function refresh() {
  const q = query();
  const summary = await call("GET", "/fleet?" + q);
  for (const s of ["up", "degraded", "down", "offline"]) $("count-" + s).textContent = summary.counts[s];
  fillSelect($("filter-region"), summary.regions);
  const region = $("filter-region").value;
  fillSelect($("filter-site"), summary.sites.filter(([r]) => !region || r === region).map(([, s]) => s));
  const { kiosks } = await call("GET", "/kiosks?" + query());
  const body = $("kiosks").tBodies[0];
  body.replaceChildren();
  for (const k of kiosks) {
    const link = el("a", k.kiosk_id);
    link.href = "#" + encodeURIComponent(k.kiosk_id);
    link.addEventListener("click", (e) => { e.preventDefault(); selectKiosk(k.kiosk_id); });
    const tr = row([link, `${k.region} / ${k.site}`, el("span", k.state, "badge " + k.state),
      when(k.last_seen), k.problems.join("; ")]);
    tr.dataset.kiosk = k.kiosk_id;
    body.appendChild(tr);
  }
  await refreshAlerts();
  if (state.selected) await selectKiosk(state.selected);
  if (state.user && state.user.role === "admin") await refreshAudit();
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
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
      action.addEventListener("click", async () => { await call("POST", `/alerts/${a.id}/ack`); await refreshAlerts(); });
    }
    const tr = row([a.kiosk_id, `${a.kind.replace("_", " ")}: ${a.subject} (${a.detail})`, when(a.raised_at), action]);
    tr.className = "alert " + a.kind + (a.acked_at ? " acked" : "");
    body.appendChild(tr);
  }
}

async function selectKiosk(id) {
  state.selected = id;
  const d = await call("GET", "/kiosks/" + encodeURIComponent(id));
  const k = d.kiosk;
  $("kiosk-detail").hidden = false;
  $("detail-id").textContent = k.kiosk_id;
  $("detail-state").textContent = k.state;
  $("detail-state").className = "badge " + k.state;
  $("detail-meta").textContent = `${k.region} / ${k.site} · ${k.connectivity} · software ${k.software_version || "?"} · catalog ${k.catalog_version || "?"} · ${k.in_service ? "in service" : "OUT OF SERVICE"} · last heartbeat ${when(k.last_seen)}`;
  const devices = $("devices").tBodies[0];
  devices.replaceChildren();
  for (const dev of k.devices) {
    const supplies = dev.supplies.map((s) => `${s.name}: ${s.level}${s.remaining === null ? "" : ` (${s.remaining})`}`).join(", ");
    devices.appendChild(row([dev.device, el("span", dev.health + (dev.reason ? ` (${dev.reason})` : ""), "health " + dev.health), supplies]));
  }
  drawPerDay(d.per_day);
  const buttons = $("command-buttons");
  buttons.replaceChildren();
  if (state.user.role !== "viewer") {
    for (const [kind, label] of COMMANDS) {
      const b = el("button", label);
      b.dataset.kind = kind;
      b.addEventListener("click", async () => {
        if (["reboot", "restart_app", "out_of_service"].includes(kind) && !confirm(`${label}: ${k.kiosk_id}?`)) return;
        await call("POST", `/kiosks/${encodeURIComponent(k.kiosk_id)}/commands`, { kind });
        await selectKiosk(k.kiosk_id);
      });
      buttons.appendChild(b);
    }
  }
  const commands = $("commands").tBodies[0];
  commands.replaceChildren();
  for (const c of d.commands) {
    const outcome = c.acked_at ? `${c.outcome} ${c.ack_detail || ""}` : (c.delivered_at ? "delivered" : "queued");
    commands.appendChild(row([c.kind.replaceAll("_", " "), c.issued_by, when(c.issued_at), outcome]));
  }
  const events = $("events").tBodies[0];
  events.replaceChildren();
  for (const e of d.events.slice(0, 20)) {
    events.appendChild(row([when(e.at), e.kind.replaceAll("_", " "), e.device, e.reason]));
  }
}

function drawPerDay(perDay) {
  const box = $("per-day");
  box.replaceChildren();
  if (!perDay.length) { box.appendChild(el("p", "no transactions reported yet", "muted")); return; }
  const value = (d) => d.counters.transactions_completed || 0;
  const max = Math.max(1, ...perDay.map(value));
  for (const d of perDay) {
    const line = el("div", null, "bar-row");
    line.appendChild(el("span", d.day.slice(5), "bar-label"));
    const bar = el("span", null, "bar");
    bar.style.width = `${Math.round((value(d) / max) * 100)}%`;
    line.appendChild(bar);
    line.appendChild(el("span", value(d), "bar-value"));
    box.appendChild(line);
  }
}

async function refreshAudit() {
  const { audit } = await call("GET", "/audit");
  const body = $("audit").tBodies[0];
  body.replaceChildren();
  for (const a of audit.slice(0, 30)) body.appendChild(row([when(a.at), a.actor, a.action, a.target, a.outcome]));
}

document.addEventListener("DOMContentLoaded", async () => {
  $("sign-in-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("sign-in-error").textContent = "";
    try {
      const user = await call("POST", "/session", { username: $("username").value, password: $("password").value });
      $("password").value = "";
      await showFleet(user);
    } catch (err) {
      $("sign-in-error").textContent = err.message === "bad_credentials" ? "Wrong user name or password." : `Sign-in failed: ${err.message}`;
    }
  });
  $("sign-out").addEventListener("click", async () => { await call("DELETE", "/session").catch(() => {}); showSignIn(); });
  for (const id of ["filter-region", "filter-site", "filter-state"]) $(id).addEventListener("change", refresh);
  try { await showFleet(await call("GET", "/session")); } catch { showSignIn(); }
});
