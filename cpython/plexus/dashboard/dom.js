// Tiny DOM helpers. Text from devices always goes through textContent, never innerHTML.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// The view part of the URL: "#/" (the fleet) or "#/source/<id>", without its "?" query.
export function hashPath() {
  return (location.hash || "#/").split("?")[0];
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function ago(ms) {
  if (ms === null || ms === undefined) return "never";
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 2) return "just now";
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

export function clock(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
}

export function formatValue(v) {
  if (typeof v === "number") {
    if (!isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
    return String(Math.round(v * 1000) / 1000);
  }
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

// A metric name that may wrap only after "." or "_", never inside a word.
export function nameParts(name) {
  const out = [];
  for (const part of String(name).split(/(?<=[._])/)) {
    if (out.length) out.push(document.createElement("wbr"));
    out.push(document.createTextNode(part));
  }
  return out;
}

// Time of day for today, date and time before that.
export function stamp(ms) {
  const d = new Date(ms);
  if (d.toDateString() === new Date().toDateString()) return clock(ms);
  return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + clock(ms);
}

export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type: type || "text/csv" }));
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
