// The teacher's console: create a workshop, its seat list and cards, prewarm, the live table
// (asked for every 3 s; the service answers from a snapshot it refreshes every few seconds,
// and the page says how old it is), open a participant's JupyterLab, push a notebook, collect, end.
//
// What the API returns may come from participants (notebook paths): the page inserts it
// only as text (textContent, never innerHTML); the service's CSP allows no inline script.
"use strict";

// el(), api(), say(), $, base, XSRF: vre.js (vre_core/static), loaded first.
const current = () => $("workshop").value;
const wpath = (rest) => `workshops/${encodeURIComponent(current())}${rest}`;

async function loadWorkshops(select) {
  const list = await api("GET", "workshops");
  $("workshop").replaceChildren(...list.map((w) =>
    el("option", {value: w.name}, w.name, w.ended ? " (ended)" : "", ` — ${w.participants.length} seats, teacher ${w.teacher}`)));
  if (select) $("workshop").value = select;
  choose();
}

function choose() {
  const has = !!current();
  $("actions").hidden = !has;
  if (!has) { $("status").tBodies[0].replaceChildren(); return; }
  $("roster").href = base + "api/" + wpath("/roster.csv");
  $("cards").href = base + "api/" + wpath("/cards");
  $("collect").href = base + "api/" + wpath("/collect.zip");
  refresh();
}

async function create(ev) {
  ev.preventDefault();
  $("create-button").disabled = true;
  say("creating accounts, group and seat list…", "");
  try {
    const w = await api("POST", "workshops", {
      name: $("name").value, seats: Number($("seats").value), expires: $("expires").value || null,
      profile: $("profile").value || null, shipped: [...$("shipped").selectedOptions].map((o) => o.value),
      home: [...$("home").selectedOptions].map((o) => o.value),
    });
    say(`workshop ${w.name} created: ${w.participants.length} seats`, "ok");
    await loadWorkshops(w.name);
  } catch (e) { say(e.message, "error"); } finally { $("create-button").disabled = false; }
}

// The teacher's own notebooks (paths in their home; names are the teacher's, shown as text).
async function loadHome() {
  try {
    const {home} = await api("GET", "notebooks");
    $("home").replaceChildren(...home.map((path) => el("option", {value: path}, path)));
    $("home-note").textContent = home.length ? "" : "no notebooks in your home";
  } catch (e) { $("home-note").textContent = e.message; }
}

function showProgress(p) {
  if (!p || !p.state || p.state === "not started") { $("progress").textContent = ""; return; }
  $("progress").textContent = `${p.state}: ${p.done}/${p.total} started` + (p.failed.length ? `, ${p.failed.length} failed` : "");
}

async function prewarm() {
  try { showProgress(await api("POST", wpath("/prewarm"))); } catch (e) { say(e.message, "error"); }
}

async function openLab(user) {
  const win = window.open("about:blank", "_blank");  // opened in the click, so no popup blocker
  try {
    const {url} = await api("POST", wpath(`/participants/${encodeURIComponent(user)}/open`));
    if (win) win.location = url; else location.href = url;
  } catch (e) { if (win) win.close(); say(e.message, "error"); }
}

async function push(ev) {
  const file = ev.target.files[0];
  if (!file) return;
  try {
    const content = JSON.parse(await file.text());
    await api("POST", wpath("/push"), {name: file.name, content});
    say(`${file.name} pushed to every participant (their own edits kept)`, "ok");
  } catch (e) { say(e.message, "error"); } finally { ev.target.value = ""; }
}

async function end() {
  if (!confirm(`End ${current()}? Participants' logins are disabled and their homes archived.`)) return;
  say("ending: disabling accounts, archiving homes…", "");
  try { const r = await api("POST", wpath("/end")); say(`ended; archive ${r.archive}`, "ok"); refresh(); }
  catch (e) { say(e.message, "error"); }
}

function row(p) {
  const button = el("button", {type: "button", disabled: p.state !== "running" && p.state !== "idle"}, "Open JupyterLab");
  button.addEventListener("click", () => openLab(p.user));
  const tr = el("tr", null,
    el("td", null, p.user), el("td", null, p.logged_in ? "yes" : "no"),
    el("td", {className: p.state}, p.state, p.detail ? ` (${p.detail})` : ""),
    el("td", null, p.memory_mib == null ? "" : `${p.memory_mib} MiB`),
    el("td", null, p.last_activity || ""), el("td", null, (p.notebooks || []).join(", ")),
    el("td", null, p.kernel || ""), el("td", null, button));
  tr.dataset.user = p.user;
  return tr;
}

async function refresh() {
  if (!current()) return;
  try {
    const s = await api("GET", wpath("/status"));
    $("status").tBodies[0].replaceChildren(...s.participants.map(row));
    const snap = s.snapshot || {};
    $("fresh").textContent = snap.taken ? `as of ${snap.taken.slice(11, 19)} UTC (${Math.round(snap.age_seconds)} s ago)` : "";
    showProgress(s.prewarm);
  } catch (e) { say(e.message, "error"); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("create").addEventListener("submit", create);
  $("workshop").addEventListener("change", choose);
  $("prewarm").addEventListener("click", prewarm);
  $("push").addEventListener("change", push);
  $("end").addEventListener("click", end);
  loadWorkshops().catch((e) => say(e.message, "error"));
  loadHome();
  setInterval(refresh, 3000);
});
