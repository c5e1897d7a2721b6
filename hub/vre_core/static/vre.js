// What the VRE's service pages share (the jobs page, the teacher's console): loaded before the
// page's own script, served by each service from vre_core/static (vre_core.web.StaticFiles)
// under its own prefix and Content-Security-Policy (no inline script).
//
// Everything these pages show comes from their REST API, much of it from users (notebook
// paths and names, parameters, errors): el() inserts strings only as text (text nodes,
// never innerHTML).
"use strict";

const base = location.pathname.replace(/\/?$/, "/");
const $ = (id) => document.getElementById(id);
const XSRF = document.querySelector('meta[name="xsrf-token"]').content;

// el("td", {className: "x"}, "text", otherNode): an element with properties and text/node children.
function el(tag, props, ...children) {
  const node = Object.assign(document.createElement(tag), props || {});
  for (const child of children) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : String(child));  // strings become text nodes
  }
  return node;
}

// api("POST", "jobs", {...}): the service's JSON API under the page; its error message on refusal.
async function api(method, path, body) {
  const r = await fetch(base + "api/" + path, {
    method, credentials: "same-origin",
    headers: {"X-XSRFToken": XSRF, "Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = r.status === 204 ? {} : await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

// The page's status line (#message), as text.
function say(text, kind) { const m = $("message"); m.textContent = text; m.className = kind; }
