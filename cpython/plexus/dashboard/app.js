// Entry point: the login, then a hash router: #/ is the fleet, #/source/<id>
// one device; what follows "?" (a time range, the fleet's metric) is the
// view's own and is applied in place. The key never appears in the URL.

import { api, savedKey, saveKey, forgetKey, onKeyRejected } from "./api.js";
import { h, clear, hashPath } from "./dom.js";
import { fleetView } from "./fleet.js";
import { deviceView } from "./device.js";

const main = document.getElementById("main");
const userBox = document.getElementById("user");
let current = null;
let currentPath = null;

function show(view, path) {
  if (current) current.destroy();
  current = null;
  clear(main);
  currentPath = path;
  current = view(main);
}

// Show the current view with a new query: push a history entry, or replace
// this one (a view choosing its own default, or going back a zoom step).
function navigate(query, replace) {
  const next = hashPath() + (query ? "?" + query : "");
  if (replace) {
    history.replaceState(null, "", next);
    route();
  } else {
    location.hash = next;
  }
}

function route() {
  if (!savedKey()) {
    currentPath = null;
    return show(loginView, null);
  }
  userBox.hidden = false;
  const path = hashPath();
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  if (current && currentPath === path && current.update) return current.update(params);
  // A view's navigate does nothing once the URL shows another view: an
  // answer that comes after the user moved on must not take the URL back.
  const nav = (q, replace) => { if (hashPath() === path) navigate(q, replace); };
  const m = path.match(/^#\/source\/(.+)$/);
  if (m) show((root) => deviceView(root, decodeURIComponent(m[1]), params, nav), path);
  else show((root) => fleetView(root, params, nav), path);
}

function loginView(root) {
  userBox.hidden = true;
  const input = h("input", { type: "password", name: "api_key", id: "api-key", autocomplete: "off", placeholder: "plx_…", required: true });
  const error = h("p", { class: "error", hidden: true, role: "alert" });
  const button = h("button", { type: "submit", text: "Open dashboard" });
  const form = h("form", { class: "login" },
    h("h1", { text: "Plexus" }),
    h("p", { class: "muted", text: "Enter an API key with the read scope. It is kept in this browser until you log out or close the browser." }),
    h("label", { for: "api-key", text: "API key" }), input, button, error,
    h("p", { class: "muted small" }, "No key yet? On the gateway's machine run ", h("code", { text: "plexus gateway keys create" }), "."));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    button.disabled = true;
    error.hidden = true;
    try {
      await api.get("/v1/sources", key);
      saveKey(key);
      route();
    } catch (e) {
      error.textContent = e.status === 403 ? "This key cannot read data: create one with the read scope." : e.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  root.append(form);
  input.focus();
  return { destroy() {} };
}

document.getElementById("logout").addEventListener("click", () => {
  forgetKey();
  location.hash = "#/";
  route();
});

onKeyRejected(() => {
  forgetKey();
  route();
});

window.addEventListener("hashchange", route);
route();
