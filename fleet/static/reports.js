// The operators' reports: statistics, e-supervision and fleet health, with small inline SVG
// charts. Plain DOM like app.js, whose helpers ($, el, row, call, noneRow) it uses.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const LIGHTS = [["green", "green"], ["yellow", "yellow"], ["red", "red: past the deadline"],
  ["done", "done in time"], ["done_late", "done late"]];
const reportState = { view: "fleet", timer: null };
const SUPPLY_ROWS = 50;

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function pct(rate) { return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`; }

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function stamp(t) { return t ? new Date(t * 1000).toLocaleString() : "—"; }

function query(fields) {
  const q = new URLSearchParams();
  for (const [name, id] of fields) { const v = $(id).value.trim(); if (v) q.set(name, v); }
  return q;
}

// Vertical bars, one per label; each bar stacks its series (bottom first).
function barChart(box, labels, series, format) {
  box.replaceChildren();
  if (!labels.length) { box.appendChild(el("p", "nothing reported in this period", "muted")); return; }
  const w = 640, h = 190, left = 44, bottom = 22, top = 8;
  const totals = labels.map((_, i) => series.reduce((s, x) => s + x.values[i], 0));
  const max = Math.max(1, ...totals);
  const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, width: "100%", role: "img" });
  chart.appendChild(svg("title", {}, series.map((s) => s.name).join(", ")));
  const slot = (w - left) / labels.length;
  const barW = Math.max(2, Math.min(40, slot * 0.7));
  for (const f of [0, 0.5, 1]) {
    const y = top + (h - top - bottom) * (1 - f);
    chart.appendChild(svg("line", { x1: left, x2: w, y1: y, y2: y, class: "grid" }));
    chart.appendChild(svg("text", { x: left - 4, y: y + 4, class: "axis", "text-anchor": "end" }, format(max * f)));
  }
  labels.forEach((label, i) => {
    let y = h - bottom;
    const x = left + slot * i + (slot - barW) / 2;
    for (const s of series) {
      const height = ((h - top - bottom) * s.values[i]) / max;
      if (height > 0) {
        const bar = svg("rect", { x, y: y - height, width: barW, height, class: s.cls });
        bar.appendChild(svg("title", {}, `${label} ${s.name}: ${format(s.values[i])}`));
        chart.appendChild(bar);
      }
      y -= height;
    }
    if (labels.length <= 16 || i % Math.ceil(labels.length / 16) === 0) {
      chart.appendChild(svg("text", { x: x + barW / 2, y: h - 6, class: "axis", "text-anchor": "middle" }, label));
    }
  });
  box.appendChild(chart);
}

// One horizontal bar per row, split into coloured parts.
function stackedRows(box, rows, parts) {
  box.replaceChildren();
  if (!rows.length) { box.appendChild(el("p", "nothing to show", "muted")); return; }
  const w = 640, rowH = 22, left = 230;
  const chart = svg("svg", { viewBox: `0 0 ${w} ${rows.length * rowH + 4}`, width: "100%", role: "img" });
  const max = Math.max(1, ...rows.map((r) => parts.reduce((s, [k]) => s + (r.values[k] || 0), 0)));
  rows.forEach((r, i) => {
    const y = i * rowH + 2;
    chart.appendChild(svg("text", { x: left - 6, y: y + 14, class: "axis", "text-anchor": "end" }, r.label));
    let x = left;
    for (const [k, cls] of parts) {
      const width = ((w - left - 40) * (r.values[k] || 0)) / max;
      if (width > 0) {
        const bar = svg("rect", { x, y, width, height: rowH - 6, class: cls });
        bar.appendChild(svg("title", {}, `${r.label}: ${r.values[k]} ${k.replaceAll("_", " ")}`));
        chart.appendChild(bar);
        x += width;
      }
    }
    chart.appendChild(svg("text", { x: x + 4, y: y + 14, class: "axis" }, r.total));
  });
  box.appendChild(chart);
}

function tiles(box, entries) {
  box.replaceChildren();
  for (const [label, value, cls] of entries) {
    const tile = el("div", null, "tile " + (cls || ""));
    tile.appendChild(el("span", value, "count"));
    tile.appendChild(el("span", label));
    box.appendChild(tile);
  }
}

// Every day (YYYY-MM-DD) or month (YYYY-MM) from `first` to `last`, so quiet ones show as gaps.
function periodsBetween(grain, first, last) {
  const out = [];
  if (grain === "day") {
    const end = Date.UTC(...last.split("-").map((v, i) => Number(v) - (i === 1 ? 1 : 0)));
    for (let t = Date.UTC(...first.split("-").map((v, i) => Number(v) - (i === 1 ? 1 : 0))); t <= end && out.length < 400; t += 86400000) {
      out.push(new Date(t).toISOString().slice(0, 10));
    }
  } else {
    let [y, m] = first.split("-").map(Number);
    const [ly, lm] = last.split("-").map(Number);
    while ((y < ly || (y === ly && m <= lm)) && out.length < 400) {
      out.push(`${y}-${String(m).padStart(2, "0")}`);
      m += 1; if (m > 12) { m = 1; y += 1; }
    }
  }
  return out;
}

// -- statistics --------------------------------------------------------------------------------

const STATS_FIELDS = [["grain", "stats-grain"], ["from", "stats-from"], ["to", "stats-to"],
  ["group", "stats-group"], ["region", "stats-region"], ["site", "stats-site"]];
const GROUP_HEAD = { item: ["Item", (r) => `${r.item_name || ""} ${r.item_code}`.trim()],
  kiosk: ["Kiosk", (r) => `${r.kiosk_id} (${r.region} / ${r.site})`], site: ["Site", (r) => `${r.region} / ${r.site}`],
  region: ["Region", (r) => r.region], period: ["Period", (r) => r.period] };

async function refreshStatistics() {
  const q = query(STATS_FIELDS);
  $("stats-csv").href = `${API}/statistics.csv?${q}`;
  const data = await call("GET", "/statistics?" + q);
  const t = data.total;
  tiles($("stats-tiles"), [["transactions", t.transactions], ["yuan taken", t.amount_yuan],
    ["success rate", pct(t.success_rate), "up"], ["refunds", `${t.refunds} · ¥${t.refunded_yuan}`, "degraded"],
    ["satisfaction", `${pct(t.satisfaction_rate)} of ${t.evaluations}`, "up"], ["agent-assisted", pct(t.agent_share)]]);
  const periodQ = new URLSearchParams(q);
  periodQ.set("group", "period");
  const byPeriod = new Map((await call("GET", "/statistics?" + periodQ)).rows.map((r) => [r.period, r]));
  const empty = { transactions: 0, completed: 0, amount_fen: 0 };
  const periods = periodsBetween(data.grain, data.from, data.to);
  const series = periods.map((p) => byPeriod.get(p) || empty);
  const labels = periods.map((p) => (data.grain === "day" ? p.slice(5) : p));
  barChart($("stats-chart-tx"), labels, [
    { name: "completed", cls: "completed", values: series.map((r) => r.completed) },
    { name: "not completed", cls: "other", values: series.map((r) => r.transactions - r.completed) },
  ], (v) => Math.round(v));
  barChart($("stats-chart-yuan"), labels, [
    { name: "yuan", cls: "money", values: series.map((r) => r.amount_fen / 100) },
  ], (v) => `¥${Math.round(v)}`);
  const [head, label] = GROUP_HEAD[data.group] || ["", () => "total"];
  const table = $("stats-table");
  table.tHead.replaceChildren(row([head, "Transactions", "Completed", "Success", "Yuan taken", "Refunds",
    "Satisfaction", "Evaluations", "Agent-assisted", "Mean time"]));
  for (const th of table.tHead.querySelectorAll("td")) th.replaceWith(el("th", th.textContent));
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const r of data.rows) {
    body.appendChild(row([label(r), r.transactions, r.completed, pct(r.success_rate), r.amount_yuan,
      `${r.refunds} (¥${r.refunded_yuan})`, pct(r.satisfaction_rate), r.evaluations, pct(r.agent_share), duration(r.mean_s)]));
  }
  noneRow(body, 10, "no transactions reported in this period");
}

// -- supervision -------------------------------------------------------------------------------

async function refreshSupervision() {
  const q = query([["from", "sup-from"], ["to", "sup-to"], ["at", "sup-at"], ["region", "sup-region"]]);
  const data = await call("GET", "/supervision?" + q);
  tiles($("sup-tiles"), LIGHTS.map(([k, label]) => [label, data.totals[k], "light " + k]));
  const at = $("sup-at").value ? ` as at ${new Date(data.at * 1000).toLocaleString()}` : "";
  $("sup-note").textContent = `Applications submitted ${data.from} to ${data.to}${at}. Yellow: a day or 20% of the time limit left, whichever is more; red: past the deadline with no decision reported. `
    + `Decisions reported by offices so far: ${data.decisions_reported}. Until an office's decision reaches the fleet, its application stays lit and turns red at its deadline.`;
  stackedRows($("sup-chart"), data.items.map((i) => ({
    label: `${i.item_name || i.item_code}`.slice(0, 30), values: i,
    total: LIGHTS.reduce((s, [k]) => s + i[k], 0),
  })), LIGHTS.map(([k]) => [k, "light " + k]));
  const body = $("sup-table").tBodies[0];
  body.replaceChildren();
  for (const a of data.lit) {
    const tr = row([el("span", a.light, "lamp " + a.light), stamp(a.deadline_at), a.item_code, a.kiosk_id,
      `${a.region} / ${a.site}`, stamp(a.submitted_at), `${a.time_limit_days} ${a.time_limit_unit.replace("_", " ")}`, a.tx_id]);
    tr.className = "light-row " + a.light;
    body.appendChild(tr);
  }
  noneRow(body, 8, "no application is yellow or red");
}

// -- fleet health ------------------------------------------------------------------------------

function meter(rate) {
  const box = el("span", null, "meter");
  const fill = el("span", null, "fill" + (rate !== null && rate < 0.95 ? " low" : ""));
  fill.style.width = `${Math.round((rate || 0) * 100)}%`;
  box.appendChild(fill);
  const wrap = el("span");
  wrap.append(box, " ", pct(rate));
  return wrap;
}

async function refreshHealth() {
  const q = query([["from", "health-from"], ["to", "health-to"], ["region", "health-region"]]);
  const place = new URLSearchParams();
  if (q.get("region")) place.set("region", q.get("region"));
  const [avail, repairs, supplies] = await Promise.all([call("GET", "/health/availability?" + q),
    call("GET", "/health/repairs?" + q), call("GET", "/health/supplies?" + place)]);
  const kiosks = $("avail-kiosks").tBodies[0];
  kiosks.replaceChildren();
  for (const k of avail.kiosks) {
    kiosks.appendChild(row([k.kiosk_id, `${k.region} / ${k.site}`, meter(k.availability),
      `${duration(k.in_service_s)} / ${duration(k.open_s)}`]));
  }
  noneRow(kiosks, 4, "no kiosk has reported since this server began counting");
  if (avail.kiosks_matching > avail.kiosks.length) {
    kiosks.appendChild(row([`the first ${avail.kiosks.length} of ${avail.kiosks_matching} kiosks: choose a region to see the others`]));
  }
  const items = $("avail-items").tBodies[0];
  items.replaceChildren();
  for (const i of avail.items) {
    items.appendChild(row([`${i.item_name || ""} ${i.item_code}`.trim(), i.kiosks, meter(i.availability), `${duration(i.in_service_s)} / ${duration(i.open_s)}`]));
  }
  noneRow(items, 4, "no kiosk has reported its items");
  const kinds = repairs.device_kinds;
  stackedRows($("mttr-chart"), kinds.filter((d) => d.mttr_s !== null).map((d) => ({
    label: d.device, values: { mttr: d.mttr_s }, total: duration(d.mttr_s),
  })), [["mttr", "repair"]]);
  const mttr = $("mttr").tBodies[0];
  mttr.replaceChildren();
  for (const d of kinds) {
    mttr.appendChild(row([d.device, d.repairs, duration(d.mttr_s), duration(d.longest_s),
      d.open ? `${d.open} (oldest ${duration(d.oldest_open_s)})` : "0"]));
  }
  noneRow(mttr, 5, "no device fault reported in this period");
  const body = $("supplies").tBodies[0];
  body.replaceChildren();
  const soonest = supplies.supplies.slice(0, SUPPLY_ROWS);
  for (const s of soonest) {
    const left = s.left === null ? "unknown" : `${s.left} ${s.unit}`.trim();
    const today = s.used_today === null ? "—" : `${s.used_today} ${s.unit} (${s.rate_per_hour}/h)`;
    const out = s.hours_left === null ? (s.left === null ? "—" : "no use today")
      : s.hours_left === 0 ? "now" : `in about ${s.hours_left} h`;
    const tr = row([s.kiosk_id, `${s.device} ${s.supply}`, el("span", s.level, "level " + s.level),
      el("span", left, "left", ), today, out]);
    tr.title = `left: ${s.basis}`;
    body.appendChild(tr);
  }
  noneRow(body, 6, "no supplies reported");
  if (supplies.supplies.length > soonest.length) {
    body.appendChild(row([`the ${soonest.length} running out first of ${supplies.supplies.length} (${supplies.kiosks_shown} kiosks)`]));
  }
}

// -- views -------------------------------------------------------------------------------------

const REFRESH = { statistics: refreshStatistics, supervision: refreshSupervision, health: refreshHealth };

async function showView(view) {
  reportState.view = view;
  $("fleet-view").dataset.view = view;
  for (const b of document.querySelectorAll("#views button")) b.classList.toggle("current", b.dataset.view === view);
  for (const name of Object.keys(REFRESH)) $(`${name}-view`).hidden = name !== view;
  clearInterval(reportState.timer);
  if (REFRESH[view]) {
    await REFRESH[view]();
    // A rollout is watched as it goes; the reports change slowly.
    const every = view === "rollouts" ? 5000 : 30000;
    reportState.timer = setInterval(() => REFRESH[reportState.view]?.().catch(() => {}), every);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("#views button")) b.addEventListener("click", () => showView(b.dataset.view));
  for (const [form, view] of [["stats-form", "statistics"], ["sup-form", "supervision"], ["health-form", "health"]]) {
    $(form).addEventListener("submit", (e) => { e.preventDefault(); REFRESH[view](); });
  }
});
