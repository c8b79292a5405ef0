/*
 * Herald operator console: the browser side of GET /console.
 *
 * What this page owns: displaying the read-only JSON of /api/admin/console/* (refreshed every
 * 2 s, never two refreshes at once) and the four admin actions (unsuspend, release, unblock a
 * group, ban a session) through the existing admin JSON API, each after a confirm().
 *
 * What it must never do: keep the admin token anywhere but sessionStorage (it dies with the tab);
 * put the token in a URL, the DOM or a log line (it only ever travels in the Authorization
 * header); put server text into the page other than through textContent / attributes (no
 * innerHTML anywhere); load anything from another origin (the CSP forbids it anyway).
 */
"use strict";

const TOKEN_KEY = "herald.console.token";
const REFRESH_MS = 2000;
const PER_PAGE = 50;
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  gen: 0,            // bumped on sign-out: answers of an older generation are dropped
  busy: false,       // a refresh is in flight
  again: false,      // another refresh was asked for while one was in flight
  timer: null,
  ticker: null,
  skewMs: 0,         // server clock minus browser clock, measured once per refresh
  lastOk: null,
  page: 1,
  status: "",
  q: "",
  detailId: null,
  searchTimer: null,
};
const tenantRows = new Map(); // user_id -> <tr>, only the rows of the page on screen
const cellSigs = new WeakMap(); // <td> -> signature of the data it shows

class AuthError extends Error {}

const $ = (sel) => document.querySelector(sel);

// ---------- small DOM helpers (text only ever goes in as text nodes) ----------

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  for (const k of kids.flat()) if (k != null && k !== false) e.append(k);
  return e;
}

function s(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  setAttrs(e, attrs);
  if (text != null) e.textContent = String(text);
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    e.setAttribute(k, v === true ? "" : String(v));
  }
}

const td = (cls, ...kids) => h("td", { class: cls }, ...kids);

function fillBody(table, rows, emptyText, cols) {
  const body = table.tBodies[0];
  if (rows.length) body.replaceChildren(...rows);
  else body.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: cols }, emptyText)));
}

// ---------- formatting ----------

const pad2 = (n) => String(n).padStart(2, "0");
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const serverNow = () => Date.now() + state.skewMs;

function fmtDuration(sec) {
  sec = Math.max(0, Math.floor(sec));
  const hrs = Math.floor(sec / 3600), min = Math.floor((sec % 3600) / 60), rest = sec % 60;
  if (hrs) return `${hrs}h ${pad2(min)}m`;
  if (min) return `${min}m ${pad2(rest)}s`;
  return `${rest}s`;
}

function fmtClock(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return "—";
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  if (d.toDateString() === new Date(serverNow()).toDateString()) return time;
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${time.slice(0, 5)}`;
}

function fmtMinute(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "?" : `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

const secondsUntil = (iso) => (Date.parse(iso) - serverNow()) / 1000;
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// Elements that tick every second: flood-wait countdowns, parked remaining times, "ago" cells.
function countdown(cls, until) {
  return h("td", { class: cls, "data-until": until, title: until }, fmtDuration(secondsUntil(until)));
}

function ago(iso) {
  return h("span", { class: "ago", "data-at": iso, title: iso || "" }, fmtAgo(iso));
}

function fmtAgo(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? "—" : `${fmtDuration((serverNow() - t) / 1000)} ago`;
}

function tick() {
  for (const e of document.querySelectorAll(".countdown[data-until], .remaining[data-until]")) {
    e.textContent = fmtDuration(secondsUntil(e.getAttribute("data-until")));
  }
  for (const e of document.querySelectorAll(".ago[data-at]")) e.textContent = fmtAgo(e.getAttribute("data-at"));
}

// ---------- token, sign-in, sign-out ----------

const getToken = () => sessionStorage.getItem(TOKEN_KEY);

function takeTokenFromFragment() {
  if (!location.hash.startsWith("#token=")) return;
  let token = location.hash.slice("#token=".length);
  try { token = decodeURIComponent(token); } catch (_) { /* keep it as it came */ }
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  history.replaceState(null, "", location.pathname + location.search);
}

function showSignin(message) {
  stop();
  $("#console").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = message || "";
  $("#token-input").focus();
}

function refuse(detail) {
  sessionStorage.removeItem(TOKEN_KEY);
  showSignin(`The token was refused: ${detail}`);
}

function start() {
  $("#signin").hidden = true;
  $("#console").hidden = false;
  $("#signin-error").textContent = "";
  state.ticker = setInterval(tick, 500); // twice a second so a shown second is never late by a whole one
  refresh();
}

function stop() {
  state.gen += 1;
  state.busy = false;
  state.again = false;
  clearTimeout(state.timer);
  clearInterval(state.ticker);
  closeDetail();
}

// ---------- the JSON API ----------

function detailOf(data, res) {
  if (data && typeof data.detail === "string" && data.detail) return data.detail;
  if (data && data.error && data.error.message) return data.error.message;
  return `HTTP ${res.status} ${res.statusText}`.trim();
}

async function api(method, path, body) {
  const token = getToken();
  if (!token) {
    showSignin("");
    throw new AuthError("Not signed in");
  }
  const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new Error(`Network error (${e.message})`);
  }
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (res.status === 401 || res.status === 403) {
    const detail = detailOf(data, res);
    refuse(detail);
    throw new AuthError(detail);
  }
  if (!res.ok || !data || data.success === false) throw new Error(detailOf(data, res));
  return data;
}

const seg = encodeURIComponent;

function tenantsQuery() {
  const p = new URLSearchParams({ page: String(state.page), per_page: String(PER_PAGE) });
  if (state.status) p.set("status", state.status);
  if (state.q) p.set("q", state.q);
  return p.toString();
}

// ---------- the refresh loop ----------

async function refresh() {
  if (state.busy) { state.again = true; return; }
  clearTimeout(state.timer);
  state.busy = true;
  const gen = state.gen;
  const query = tenantsQuery();
  const detailId = state.detailId;
  const errors = [];
  try {
    const [ov, tn, act] = await Promise.allSettled([
      api("GET", "/api/admin/console/overview"),
      api("GET", `/api/admin/console/tenants?${query}`),
      detailId ? api("GET", `/api/admin/console/tenants/${seg(detailId)}/activity`) : Promise.resolve(null),
    ]);
    if (gen !== state.gen) return;
    if ([ov, tn, act].some((r) => r.status === "rejected" && r.reason instanceof AuthError)) return;
    if (ov.status === "fulfilled") {
      const t = Date.parse(ov.value.now);
      if (!Number.isNaN(t)) state.skewMs = t - Date.now();
      renderOverview(ov.value);
    } else errors.push(`overview: ${ov.reason.message}`);
    if (tn.status === "fulfilled") {
      if (query === tenantsQuery()) renderTenants(tn.value);
      else state.again = true; // the filter moved while this answer was on its way
    } else errors.push(`tenants: ${tn.reason.message}`);
    if (detailId && detailId === state.detailId) {
      if (act.status === "fulfilled") renderDetail(act.value);
      else showDetailError(act.reason.message);
    }
    if (!errors.length) state.lastOk = new Date();
  } catch (e) {
    errors.push(e.message);
  } finally {
    if (gen === state.gen) {
      state.busy = false;
      setStatus(errors);
      state.timer = setTimeout(refresh, state.again ? 0 : REFRESH_MS);
      state.again = false;
    }
  }
}

function setStatus(errors) {
  const line = $("#status-line");
  const ok = state.lastOk ? `Updated ${fmtClock(state.lastOk.toISOString())}` : "Not updated yet";
  line.textContent = errors.length ? `${ok} · Error: ${errors.join("; ")}` : ok;
  line.classList.toggle("status-line-error", errors.length > 0);
}

function flash(text, ok) {
  const f = $("#flash");
  f.textContent = text || (ok ? "Done" : "Failed");
  f.className = ok ? "flash-ok" : "flash-error";
  f.hidden = false;
}

// ---------- overview ----------

function renderOverview(ov) {
  const pool = ov.pool || {};
  for (const e of document.querySelectorAll("#pool [data-count]")) {
    e.textContent = String(num(pool[e.getAttribute("data-count")]));
  }
  const t = ov.tenants || {};
  $("#tenant-counts").textContent = `${plural(num(t.total), "tenant")}: ${num(t.running)} running, `
    + `${num(t.stopping)} stopping, ${num(t.stopped)} stopped, ${num(t.suspended)} suspended`;

  fillBody($("#flood-waits"), (ov.flood_waits || []).map((f) => {
    const until = f.until || new Date(serverNow() + num(f.seconds_left) * 1000).toISOString();
    return h("tr", { "data-session": f.session },
      td("session mono", f.session), td("tenant", f.user_id ?? "—"), countdown("countdown num", until));
  }), "No session is waiting out a flood wait", 3);

  fillBody($("#parked"), (ov.parked || []).map((p) => h("tr", { "data-session": p.session },
    td("session mono", p.session), td("tenant", p.user_id ?? "—"),
    h("td", { class: "when", title: p.until }, fmtClock(p.until)), countdown("remaining num", p.until),
  )), "No session is parked", 4);

  fillBody($("#quarantines"), (ov.quarantines || []).map((q) => h("tr", { "data-session": q.session },
    td("session mono", q.session), td("tenant", q.user_id ?? "—"), td("reason mono", q.reason ?? "—"),
    h("td", { class: "when", title: q.at }, fmtClock(q.at)),
  )), "No session is quarantined", 4);

  fillBody($("#pairs"), (ov.pairs || []).map(pairRow), "No API pair is configured", 4);

  fillBody($("#processes"), (ov.processes || []).map((p) => h("tr", { "data-process": p.id },
    td("role", p.role), td("id mono", p.id),
    td(p.leader ? "leader" : "", p.role === "scheduler" ? (p.leader ? "leader" : "standby") : "—"),
    td("num", String(num(p.cycles))), td("seen", ago(p.seen_at)),
  )), "No process has reported", 5);

  const cif = ov.cycles_in_flight || { count: 0, items: [] };
  const items = cif.items || [];
  $("#cycles .cycles-count").textContent = items.length < num(cif.count)
    ? `${num(cif.count)} (first ${items.length} shown)` : String(num(cif.count));
  fillBody($("#cycles table"), items.map((c) => h("tr", { "data-user": c.user_id },
    td("tenant mono", c.user_id), td("num", String(c.cycle_no)), td("mono", c.holder ?? "—"),
    td("renewed", ago(c.last_renewed_at)),
  )), "No cycle in flight", 4);

  const minutes = (ov.activity && ov.activity.minutes) || [];
  drawChart($("#chart-posts"), "Posts per minute", minutes, {
    bars: [{ get: (m) => m.posts, cls: "bar-posts" }, { get: (m) => m.failures, cls: "bar-failures" }],
    tip: (m) => `${num(m.posts)} posts, ${num(m.failures)} failed`,
  });
  drawChart($("#chart-floods"), "Flood waits per minute", minutes, {
    bars: [{ get: (m) => m.flood_waits, cls: "bar-floods" }],
    tip: (m) => plural(num(m.flood_waits), "flood wait"),
  });
  drawChart($("#chart-lag"), "Scheduler lag (ms)", minutes, {
    bars: [{ get: (m) => m.scheduler_lag_ms, cls: "bar-lag" }],
    unit: " ms",
    tip: (m) => (m.scheduler_lag_ms == null ? "no sample" : `lag ${m.scheduler_lag_ms} ms`),
  });
  tick();
}

function pairRow(p) {
  const max = num(p.max), usage = num(p.usage);
  const frac = max > 0 ? Math.min(1, usage / max) : 0;
  const bar = s("svg", { class: "usage", width: 80, height: 8, viewBox: "0 0 100 8", preserveAspectRatio: "none", "aria-hidden": "true" });
  bar.append(s("rect", { class: "usage-bg", x: 0, y: 0, width: 100, height: 8, rx: 2 }),
    s("rect", { class: usage >= max && max > 0 ? "usage-fill usage-full" : "usage-fill", x: 0, y: 0, width: (frac * 100).toFixed(1), height: 8, rx: 2 }));
  return h("tr", { "data-pair": p.index, class: p.retired ? "retired" : null },
    td("num", String(p.index)), td("mono", p.api_id),
    td("usage-cell", bar, h("span", { class: "usage-text" }, `${usage} / ${max}`)),
    td("pair-state", p.retired ? "retired" : ""));
}

// ---------- charts (hand-drawn SVG) ----------

// Bars per minute, right-aligned on a 60-minute axis; each series is drawn from the baseline over
// the previous one (failures are a part of posts). null values leave a gap. cfg.mark(m) puts a
// dot above a column. Works with zero points and all-zero data (the scale never divides by 0).
function drawChart(svg, title, minutes, cfg) {
  // Draw at the element's own width so that text keeps its CSS size (600 while it is hidden).
  const measured = Math.round(svg.getBoundingClientRect().width);
  const W = measured > 0 ? Math.max(240, measured) : 600;
  const H = 180, L = 44, R = 8, T = 26, B = 20;
  const pw = W - L - R, ph = H - T - B, base = T + ph;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  const values = [];
  for (const m of minutes) for (const b of cfg.bars) {
    const v = b.get(m);
    if (typeof v === "number" && Number.isFinite(v)) values.push(v);
  }
  const max = values.length ? Math.max(0, ...values) : 0;
  const scale = max > 0 ? max : 1;
  const kids = [
    s("text", { class: "chart-title", x: 0, y: 14 }, title),
    s("line", { class: "grid-line", x1: L, x2: W - R, y1: T, y2: T }),
    s("line", { class: "axis-line", x1: L, x2: W - R, y1: base, y2: base }),
    s("text", { class: "axis-label axis-max", x: L - 6, y: T + 4, "text-anchor": "end" }, `${max}${cfg.unit || ""}`),
    s("text", { class: "axis-label", x: L - 6, y: base, "text-anchor": "end" }, "0"),
  ];
  if (!minutes.length) {
    kids.push(s("text", { class: "chart-empty", x: L + pw / 2, y: T + ph / 2, "text-anchor": "middle" }, "No data yet"));
    svg.replaceChildren(...kids);
    return;
  }
  const slots = Math.max(60, minutes.length);
  const slot = pw / slots, gap = slot > 4 ? 1.5 : 0.5;
  const offset = slots - minutes.length;
  minutes.forEach((m, i) => {
    const x = L + (offset + i) * slot;
    const partial = i === minutes.length - 1;
    const g = s("g", { class: partial ? "col partial" : "col", "data-at": m.at });
    g.append(s("title", null, `${fmtMinute(m.at)}${partial ? " (so far)" : ""}: ${cfg.tip(m)}`),
      s("rect", { class: "hit", x: x.toFixed(2), y: T, width: slot.toFixed(2), height: ph }));
    for (const b of cfg.bars) {
      const v = b.get(m);
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) continue;
      const bh = Math.max(1, (v / scale) * ph);
      g.append(s("rect", { class: b.cls, x: (x + gap / 2).toFixed(2), y: (base - bh).toFixed(2), width: Math.max(0.5, slot - gap).toFixed(2), height: bh.toFixed(2) }));
    }
    if (cfg.mark && cfg.mark(m)) g.append(s("circle", { class: "mark", cx: (x + slot / 2).toFixed(2), cy: T - 5, r: Math.min(3, slot / 2) }));
    kids.push(g);
  });
  // The oldest minute's label only where it cannot overlap the newest one's (a young chart).
  if (W - R - (L + offset * slot) > 80) {
    kids.push(s("text", { class: "axis-label", x: L + offset * slot, y: H - 4 }, fmtMinute(minutes[0].at)));
  }
  kids.push(s("text", { class: "axis-label", x: W - R, y: H - 4, "text-anchor": "end" }, fmtMinute(minutes[minutes.length - 1].at)));
  svg.replaceChildren(...kids);
}

// ---------- tenants (one page in the DOM, rows updated in place) ----------

const CELLS = [
  { cls: "user", sig: (t) => [t.user_id],
    fill: (c, t) => c.replaceChildren(h("button", { type: "button", class: "link mono", "data-action": "open", title: "Open details" }, t.user_id)) },
  { cls: "status", sig: (t) => [t.status, t.cycle_state],
    fill: (c, t) => {
      c.className = `status status-${t.status}`;
      c.title = t.cycle_state ? `cycle: ${t.cycle_state}` : "";
      c.replaceChildren(String(t.status));
    } },
  { cls: "sessions", sig: (t) => [t.sessions, t.parked_sessions], fill: fillSessions },
  { cls: "next-run", sig: (t) => [t.next_run_at],
    fill: (c, t) => { c.title = t.next_run_at || ""; c.replaceChildren(t.next_run_at ? fmtClock(t.next_run_at) : "—"); } },
  { cls: "posts num", sig: (t) => [t.posts, t.success],
    fill: (c, t) => { c.title = `${num(t.success)} succeeded`; c.replaceChildren(String(num(t.posts))); } },
  { cls: "failures num", sig: (t) => [t.failures], fill: (c, t) => c.replaceChildren(String(num(t.failures))) },
  { cls: "flood-waits num", sig: (t) => [t.flood_waits], fill: (c, t) => c.replaceChildren(String(num(t.flood_waits))) },
  { cls: "replacements num", sig: (t) => [t.replacements_today], fill: (c, t) => c.replaceChildren(String(num(t.replacements_today))) },
  { cls: "blocked", sig: (t) => [t.blocked_groups], fill: fillBlocked },
  { cls: "actions", sig: (t) => [t.status, (t.sessions || []).length, t.suspended_reason], fill: fillActions },
];

function fillSessions(c, t) {
  const parked = new Map((t.parked_sessions || []).map((p) => [p.session, p.until]));
  const names = t.sessions || [];
  if (!names.length) return c.replaceChildren(h("span", { class: "muted" }, "—"));
  c.replaceChildren(h("ul", { class: "chips" }, names.map((name) => h("li", { class: parked.has(name) ? "parked" : null },
    h("span", { class: "mono" }, name),
    parked.has(name) ? h("span", { class: "tag", title: `parked until ${parked.get(name)}` }, "parked") : null,
    h("button", { type: "button", class: "btn btn-xs btn-danger", "data-action": "ban", "data-session": name, title: `Ban ${name}` }, "ban"),
  ))));
}

function fillBlocked(c, t) {
  const groups = t.blocked_groups || [];
  if (!groups.length) return c.replaceChildren(h("span", { class: "muted" }, "—"));
  // The button's label comes from app.css (::before) so that the li's text is exactly "<group>: <reason>".
  c.replaceChildren(h("ul", { class: "blocked-list" }, groups.map((b) => h("li", { "data-group": b.group, title: b.at || "" },
    `${b.group}: ${b.reason}`,
    h("button", { type: "button", class: "btn btn-xs", "data-action": "unblock", "data-group": b.group, "aria-label": `Unblock ${b.group}`, title: `Unblock ${b.group}` }),
  ))));
}

function fillActions(c, t) {
  const hasSessions = (t.sessions || []).length > 0;
  c.replaceChildren(...[
    t.status === "suspended" && t.suspended_reason ? h("span", { class: "suspended-reason" }, t.suspended_reason) : null,
    t.status === "suspended" ? h("button", { type: "button", class: "btn btn-xs", "data-action": "unsuspend" }, "unsuspend") : null,
    (t.status === "stopped" || t.status === "suspended") && hasSessions
      ? h("button", { type: "button", class: "btn btn-xs", "data-action": "release" }, "release") : null,
  ].filter(Boolean));
}

function updateRow(tr, t) {
  tr.className = `tenant-row row-${t.status}`;
  CELLS.forEach((spec, i) => {
    let cell = tr.cells[i];
    if (!cell) { cell = tr.insertCell(); cell.className = spec.cls; }
    const sig = JSON.stringify(spec.sig(t));
    if (cellSigs.get(cell) === sig) return;
    cellSigs.set(cell, sig);
    spec.fill(cell, t);
  });
}

function renderTenants(tn) {
  const body = $("#tenants-body");
  const list = tn.tenants || [];
  const seen = new Set();
  let cursor = body.firstChild;
  for (const t of list) {
    seen.add(t.user_id);
    let tr = tenantRows.get(t.user_id);
    if (!tr) {
      tr = h("tr", { "data-tenant": t.user_id });
      tenantRows.set(t.user_id, tr);
    }
    updateRow(tr, t);
    if (tr === cursor) cursor = cursor.nextSibling;
    else body.insertBefore(tr, cursor); // moves only rows that are out of place
  }
  for (const [id, tr] of tenantRows) if (!seen.has(id)) { tr.remove(); tenantRows.delete(id); }
  for (const e of [...body.querySelectorAll("tr.empty")]) e.remove();
  if (!list.length) body.append(h("tr", { class: "empty" }, h("td", { colspan: CELLS.length }, "No tenant matches")));

  const pages = Math.max(1, num(tn.pages));
  const page = num(tn.page) || state.page;
  $("#tenants-page").textContent = `Page ${page} of ${pages}, ${plural(num(tn.total), "tenant")}`;
  $("#tenants-prev").disabled = page <= 1;
  $("#tenants-next").disabled = page >= pages;
  if (num(tn.pages) > 0 && state.page > tn.pages) { state.page = tn.pages; state.again = true; }
}

function setPage(p) {
  state.page = Math.max(1, p);
  refresh();
}

// ---------- tenant detail ----------

function openDetail(id) {
  state.detailId = id;
  const d = $("#tenant-detail");
  $("#tenant-detail-id").textContent = id;
  $("#tenant-log").textContent = "Loading…";
  $("#tenant-detail-error").hidden = true;
  d.hidden = false;
  drawChart($("#chart-tenant-posts"), "Posts per minute (last hour)", [], { bars: [] });
  d.scrollIntoView({ block: "nearest", behavior: "smooth" });
  refresh();
}

function closeDetail() {
  state.detailId = null;
  const d = $("#tenant-detail");
  if (d) d.hidden = true;
}

function renderDetail(act) {
  if (act.user_id !== undefined && act.user_id !== state.detailId) return;
  $("#tenant-detail-error").hidden = true;
  drawChart($("#chart-tenant-posts"), "Posts per minute (last hour)", act.minutes || [], {
    bars: [{ get: (m) => m.posts, cls: "bar-posts" }, { get: (m) => m.failures, cls: "bar-failures" }],
    mark: (m) => num(m.flood_waits) > 0,
    tip: (m) => `${num(m.posts)} posts, ${num(m.failures)} failed, ${plural(num(m.flood_waits), "flood wait")}`,
  });
  const pre = $("#tenant-log");
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const lines = (act.log || []).slice(-300);
  const text = lines.length ? lines.join("\n") : "(no log lines)";
  if (pre.textContent !== text) {
    pre.textContent = text;
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }
}

function showDetailError(message) {
  const e = $("#tenant-detail-error");
  e.textContent = `Could not load the activity: ${message}`;
  e.hidden = false;
}

// ---------- actions ----------

async function runAction(btn, question, path, body) {
  if (!window.confirm(question)) return;
  btn.disabled = true;
  try {
    const answer = await api("POST", path, body);
    flash(answer.message, true);
    refresh();
  } catch (e) {
    if (!(e instanceof AuthError)) flash(e.message, false);
  } finally {
    btn.disabled = false;
  }
}

function onTenantsClick(ev) {
  const btn = ev.target.closest("button[data-action]");
  const tr = btn && btn.closest("tr[data-tenant]");
  if (!tr) return;
  const id = tr.getAttribute("data-tenant");
  const user = `/api/admin/users/${seg(id)}`;
  switch (btn.getAttribute("data-action")) {
    case "open":
      openDetail(id);
      break;
    case "unsuspend":
      runAction(btn, `Lift the suspension of tenant "${id}"?`, `${user}/unsuspend`);
      break;
    case "release": {
      const n = tr.querySelectorAll("button[data-action=ban]").length;
      runAction(btn, `Release the ${plural(n, "session")} of tenant "${id}" back to the pool?`, `${user}/release`);
      break;
    }
    case "unblock": {
      const group = btn.getAttribute("data-group");
      runAction(btn, `Unblock group ${group} for tenant "${id}"?`, `${user}/unblock-group`, { group });
      break;
    }
    case "ban": {
      const filename = btn.getAttribute("data-session");
      runAction(btn, `Ban session ${filename} of tenant "${id}"? It leaves the pool for good.`,
        "/api/admin/sessions/ban", { filename });
      break;
    }
    default:
      break;
  }
}

// ---------- wiring ----------

function init() {
  takeTokenFromFragment();

  $("#signin").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = $("#token-input");
    const token = input.value.trim();
    input.value = "";
    if (!token) { $("#signin-error").textContent = "Paste an admin token first."; return; }
    sessionStorage.setItem(TOKEN_KEY, token);
    start();
  });

  $("#signout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignin("");
  });

  $("#flash").addEventListener("click", (ev) => { ev.currentTarget.hidden = true; });
  $("#tenants-body").addEventListener("click", onTenantsClick);
  $("#tenant-detail-close").addEventListener("click", closeDetail);
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && state.detailId) closeDetail(); });

  $("#tenants-filter").addEventListener("change", (ev) => {
    state.status = ev.target.value;
    setPage(1);
  });
  const onSearch = (ev) => {
    clearTimeout(state.searchTimer);
    const value = ev.target.value.trim();
    state.searchTimer = setTimeout(() => {
      if (value === state.q) return;
      state.q = value;
      setPage(1);
    }, 300);
  };
  $("#tenants-search").addEventListener("input", onSearch);
  $("#tenants-search").addEventListener("change", onSearch);
  $("#tenants-prev").addEventListener("click", () => setPage(state.page - 1));
  $("#tenants-next").addEventListener("click", () => setPage(state.page + 1));

  // A link with #token= opened in a tab that already shows the page does not reload it.
  window.addEventListener("hashchange", () => {
    if (!location.hash.startsWith("#token=")) return;
    takeTokenFromFragment();
    if (getToken()) { stop(); start(); }
  });

  if (getToken()) start();
  else showSignin("");
}

document.addEventListener("DOMContentLoaded", init);
