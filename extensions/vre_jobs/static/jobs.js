// The jobs page: a form that submits jobs or schedules, and the two tables, refreshed every 5 s.
//
// Everything shown comes from the REST API and much of it from users (notebook paths,
// parameters, errors a notebook wrote about itself), and an admin sees every user's rows:
// the page inserts it only as text (textContent, never innerHTML). The service's
// Content-Security-Policy allows no inline script: this file and vre.js are the page's scripts.
"use strict";

// el(), api(), say(), $, base, XSRF: vre.js (vre_core/static), loaded first.
const code = (text) => el("code", null, text);

function parseJSON(id) {
  const text = $(id).value.trim();
  if (!text) return undefined;
  try { return JSON.parse(text); } catch (e) { throw new Error(`${id} is not valid JSON; e.g. {"name": 1}`); }
}
function button(label, method, path) {
  const b = el("button", {type: "button"}, label);
  b.addEventListener("click", () => act(method, path));
  return b;
}
async function act(method, path) { try { await api(method, path); refresh(); } catch (e) { say(e.message, "error"); } }

async function inspect() {
  try {
    const info = await api("GET", "notebooks?path=" + encodeURIComponent($("notebook").value));
    const rows = Object.entries(info.parameters).map(([name, p]) =>
      el("div", null, code(name), `: ${p.type || "any"} = `, code(p.default ?? ""), " ", p.help || ""));
    $("params").replaceChildren(...(rows.length ? rows : ["This notebook has no parameters cell."]));
  } catch (e) { $("params").replaceChildren(); say(e.message, "error"); }
}

async function submit(ev) {
  ev.preventDefault();
  try {
    const body = {notebook: $("notebook").value};
    const parameters = parseJSON("parameters"), sweep = parseJSON("sweep");
    if (parameters) body.parameters = parameters;
    if (sweep) body.sweep = sweep;
    if ($("kernel").value) body.kernel = $("kernel").value;
    if ($("timeout").value) body.timeout = parseInt($("timeout").value, 10);
    if ($("output_dir").value) body.output_dir = $("output_dir").value;
    if ($("cron").value.trim()) {
      body.cron = $("cron").value.trim();
      const s = await api("POST", "schedules", body);
      say(`Schedule ${s.id} created; next run ${s.next_run}.`, "ok");
    } else {
      const r = await api("POST", "jobs", body);
      say(`Submitted ${r.jobs.length} job(s): ${r.jobs.map((j) => j.id).join(", ")}.`, "ok");
    }
    refresh();
  } catch (e) { say(e.message, "error"); }
}

const ACTIVE = ["queued", "starting", "running"];
const STATES = ACTIVE.concat(["completed", "failed", "timeout", "cancelled"]);  // also CSS classes

// Which backend ran the job; a batch scheduler's job id with it (a container's name as a tooltip).
function backendCell(j) {
  const batch = j.backend && j.backend !== "docker" && j.backend_id;
  return el("td", {className: "backend", title: j.backend_id || ""}, batch ? `${j.backend} ${j.backend_id}` : j.backend);
}

function jobRow(j) {
  const id = encodeURIComponent(j.id);
  const files = j.started ? ["notebook.html", "notebook.ipynb", "job.log"].map((f) =>
    el("a", {href: `${base}api/jobs/${id}/files/${f}`, target: "_blank", rel: "noopener"}, f.split(".").pop())) : [];
  const links = el("td");
  files.forEach((a, i) => links.append(...(i ? [" ", a] : [a])));
  const cell = Number.isInteger(j.error_cell) ? `cell ${j.error_cell}: ` : "";
  const state = el("td", null, el("span", {className: "state " + (STATES.includes(j.state) ? j.state : "")}, j.state),
    j.attempt > 1 ? ` (attempt ${j.attempt})` : "", j.error ? el("div", {className: "err"}, cell + j.error) : null);
  return el("tr", null,
    el("td", null, code(j.id)), el("td", null, j.owner), el("td", null, code(j.notebook)),
    el("td", null, code(JSON.stringify(j.parameters))), state, backendCell(j), el("td", null, j.created),
    el("td", null, typeof j.duration === "number" ? j.duration.toFixed(1) + " s" : ""), links,
    el("td", null, ACTIVE.includes(j.state) ? button("Cancel", "DELETE", `jobs/${id}`) : null));
}

function scheduleRow(s) {
  const id = encodeURIComponent(s.id);
  const next = el("td");
  if (s.paused) next.append("paused");
  else (s.upcoming || []).forEach((t, i) => next.append(...(i ? [el("br"), t] : [t])));
  return el("tr", null,
    el("td", null, code(s.id)), el("td", null, s.owner), el("td", null, code(s.cron)), el("td", null, code(s.notebook)),
    el("td", null, s.runs), next,
    el("td", null, s.paused ? button("Resume", "POST", `schedules/${id}/resume`) : button("Pause", "POST", `schedules/${id}/pause`),
      " ", button("Delete", "DELETE", `schedules/${id}`)));
}

function fill(table, rows, empty, columns) {
  $(table).tBodies[0].replaceChildren(...(rows.length ? rows : [el("tr", null, el("td", {colSpan: columns}, empty))]));
}

async function refresh() {
  const all = $("all") && $("all").checked ? "?all=1" : "";
  try {
    const [{jobs}, {schedules}] = await Promise.all([api("GET", "jobs" + all), api("GET", "schedules" + all)]);
    fill("jobs", jobs.map(jobRow), "No jobs yet.", 9);
    fill("schedules", schedules.map(scheduleRow), "No schedules.", 7);
  } catch (e) { say(e.message, "error"); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("inspect").addEventListener("click", inspect);
  $("submit").addEventListener("submit", submit);
  if ($("all")) $("all").addEventListener("change", refresh);
  refresh();
  setInterval(refresh, 5000);
});
