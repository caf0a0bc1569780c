// The fleet: every source the gateway knows with its state, when it was last
// seen and a sparkline of one chosen metric over the last hour; counts of
// online, offline and never seen; sort and filter. States refresh every 2 s,
// sparklines every 30 s. The chosen metric, sort and filter live in the URL.

import { api, sourcePath } from "./api.js";
import { h, clear, ago, formatValue, hashPath } from "./dom.js";
import { fleetMetric } from "./data.js";
import { unitOf } from "./units.js";

const SPARK_MS = 3600000;
const SPARK_EVERY_MS = 30000;
const NAMES_EVERY_MS = 30000;
const SORTS = [["state", "state"], ["source", "name"], ["seen", "last seen"], ["value", "latest value"]];

function stateOf(d) {
  if (d.online) return "online";
  return d.last_seen_ms ? "offline" : "never seen";
}

export function fleetView(root, params, navigate) {
  const st = {
    devices: [],
    metric: params.get("metric") || "",
    sort: params.get("sort") || "state",
    filter: params.get("q") || "",
    show: params.get("show") || "all",
    names: new Map(), // source -> [metric]
    namesAt: 0,
    sparks: new Map(), // source -> {t, avg}
    sparkAt: 0,
    sparkMetric: null,
    stopped: false,
  };

  const counts = h("p", { class: "summary" });
  const body = h("tbody");
  const error = h("p", { class: "error", hidden: true });
  const metricSel = h("select", { class: "spark-metric", "aria-label": "metric for the sparklines" });
  const sortSel = h("select", { class: "fleet-sort", "aria-label": "sort by" }, SORTS.map(([k, label]) => h("option", { value: k, text: label })));
  const filterInput = h("input", { type: "search", class: "fleet-filter", placeholder: "filter sources", "aria-label": "filter sources", value: st.filter });
  const showSel = h("select", { class: "fleet-show", "aria-label": "show" },
    [["all", "all"], ["online", "online"], ["offline", "offline"], ["never seen", "never seen"]].map(([k, l]) => h("option", { value: k, text: l })));
  sortSel.value = st.sort;
  showSel.value = st.show;
  const empty = h("div", { class: "empty", hidden: true },
    h("p", { text: "No device has sent anything yet." }),
    h("p", { class: "muted" }, "Send a reading with ", h("code", { text: "plexus send temp 21.5" }),
      " or run ", h("code", { text: "plexus demo" }), "."));
  const sparkHead = h("th", { class: "spark-head", text: "last hour" });
  root.append(h("section", { class: "fleet" },
    h("h1", { text: "Fleet" }), counts, error,
    h("div", { class: "fleet-tools" },
      h("label", {}, "Sparkline ", metricSel), h("label", {}, "Sort by ", sortSel),
      h("label", {}, "Show ", showSel), filterInput),
    h("table", { class: "fleet-table" },
      h("thead", {}, h("tr", {}, h("th", { text: "" }), h("th", { text: "Source" }), h("th", { text: "State" }),
        h("th", { text: "Last seen" }), sparkHead, h("th", { class: "num", text: "Latest" }))),
      body),
    empty));

  // The view's choices go into the URL (replacing the entry: no new history),
  // while the URL still shows the fleet: an answer that comes after the user
  // opened a device must not take the URL back.
  function remember() {
    if (st.stopped || hashPath() !== "#/") return;
    const q = new URLSearchParams();
    if (st.metric) q.set("metric", st.metric);
    if (st.sort !== "state") q.set("sort", st.sort);
    if (st.filter) q.set("q", st.filter);
    if (st.show !== "all") q.set("show", st.show);
    history.replaceState(null, "", "#/" + (q.toString() ? "?" + q : ""));
  }
  metricSel.addEventListener("change", () => {
    st.metric = metricSel.value;
    st.sparkAt = 0;
    remember();
    refresh();
  });
  sortSel.addEventListener("change", () => { st.sort = sortSel.value; remember(); render(); });
  showSel.addEventListener("change", () => { st.show = showSel.value; remember(); render(); });
  filterInput.addEventListener("input", () => { st.filter = filterInput.value.trim(); remember(); render(); });

  let timer = null;

  // Every metric any source has, most common first, for the sparkline choice.
  async function loadNames() {
    st.namesAt = Date.now();
    await Promise.all(st.devices.map(async (d) => {
      const names = await api.get(sourcePath(d.source_id, "/metrics")).catch(() => null);
      if (Array.isArray(names)) st.names.set(d.source_id, names);
    }));
    const seen = new Map();
    for (const names of st.names.values()) for (const m of names) seen.set(m, (seen.get(m) || 0) + 1);
    const all = Array.from(seen).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([m]) => m);
    if (!st.metric && all.length) {
      st.metric = all[0];
      remember();
    }
    if (st.metric && !all.includes(st.metric)) all.unshift(st.metric);
    const have = Array.from(metricSel.options).map((o) => o.value);
    if (have.join("\n") !== all.join("\n")) {
      clear(metricSel);
      for (const m of all) metricSel.append(h("option", { value: m, text: m }));
    }
    metricSel.value = st.metric;
  }

  async function loadSparks() {
    st.sparkAt = Date.now();
    if (!st.metric) return;
    const metric = st.metric;
    const rows = await fleetMetric(metric, SPARK_MS);
    if (metric !== st.metric) return;
    st.sparks.clear();
    for (const r of rows) st.sparks.set(r.source_id, r);
    st.sparkMetric = metric;
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const list = await api.get("/v1/sources");
      st.devices = (list && list.devices) || [];
      if (Date.now() - st.namesAt > NAMES_EVERY_MS || st.devices.some((d) => !st.names.has(d.source_id))) await loadNames();
      if (Date.now() - st.sparkAt > SPARK_EVERY_MS || st.sparkMetric !== st.metric) await loadSparks();
      render();
      error.hidden = true;
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
    if (!st.stopped) timer = setTimeout(refresh, 2000);
  }

  function latestOf(id) {
    const s = st.sparks.get(id);
    if (!s || !s.avg.length) return null;
    for (let i = s.avg.length - 1; i >= 0; i--) if (typeof s.avg[i] === "number") return s.avg[i];
    return null;
  }

  function sorted(devices) {
    const order = { online: 0, offline: 1, "never seen": 2 };
    const byName = (a, b) => String(a.source_id).localeCompare(String(b.source_id));
    const cmp = {
      state: (a, b) => order[stateOf(a)] - order[stateOf(b)] || byName(a, b),
      source: byName,
      seen: (a, b) => (b.last_seen_ms || 0) - (a.last_seen_ms || 0) || byName(a, b),
      value: (a, b) => (latestOf(b.source_id) ?? -Infinity) - (latestOf(a.source_id) ?? -Infinity) || byName(a, b),
    }[st.sort] || byName;
    return devices.slice().sort(cmp);
  }

  function render() {
    const n = { online: 0, offline: 0, "never seen": 0 };
    for (const d of st.devices) n[stateOf(d)]++;
    clear(counts);
    counts.append(
      h("span", { class: "count count-total", text: st.devices.length + (st.devices.length === 1 ? " source" : " sources") }),
      h("span", { class: "count count-online", dataset: { n: n.online }, text: n.online + " online" }),
      h("span", { class: "count count-offline", dataset: { n: n.offline }, text: n.offline + " offline" }),
      h("span", { class: "count count-never", dataset: { n: n["never seen"] }, text: n["never seen"] + " never seen" }));
    empty.hidden = st.devices.length > 0;
    const unit = unitOf(st.metric);
    sparkHead.textContent = st.metric ? st.metric + ", last hour" : "last hour";
    const needle = st.filter.toLowerCase();
    clear(body);
    for (const d of sorted(st.devices)) {
      const state = stateOf(d);
      if (st.show !== "all" && st.show !== state) continue;
      if (needle && !String(d.source_id).toLowerCase().includes(needle)) continue;
      const link = h("a", { href: "#/source/" + encodeURIComponent(d.source_id), text: d.source_id });
      const spark = st.sparks.get(d.source_id);
      const canvas = h("canvas", { class: "sparkline", width: 160, height: 28 });
      const latest = latestOf(d.source_id);
      body.append(h("tr", { class: "source-row " + state.replace(" ", "-"), dataset: { source: d.source_id, online: String(!!d.online), state } },
        h("td", {}, h("span", { class: "dot", title: state })),
        h("td", {}, link),
        h("td", { text: state }),
        h("td", { text: ago(d.last_seen_ms), title: d.last_seen_ms ? new Date(d.last_seen_ms).toISOString() : "" }),
        h("td", { class: "spark-cell", dataset: { points: spark ? String(spark.t.length) : "0" } }, canvas),
        h("td", { class: "num", text: latest === null ? "–" : formatValue(latest) + (unit ? " " + unit : "") })));
      if (spark) drawSpark(canvas, spark);
    }
  }

  refresh();
  return {
    update() {}, // the URL only echoes this view's own choices
    destroy() { st.stopped = true; clearTimeout(timer); },
  };
}

// A sparkline: the hour's bucket means as a line, a lone bucket as a dot.
// Hand-drawn on a small canvas (one per row, redrawn every 2 s), which is
// cheaper than a chart library instance per row.
function drawSpark(canvas, s) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.width, hgt = canvas.height;
  canvas.style.width = w + "px";
  canvas.style.height = hgt + "px";
  canvas.width = w * dpr;
  canvas.height = hgt * dpr;
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  const pts = [];
  for (let i = 0; i < s.t.length; i++) if (typeof s.avg[i] === "number") pts.push([s.t[i], s.avg[i]]);
  if (!pts.length) return;
  const now = Date.now(), t0 = now - SPARK_MS;
  let lo = Infinity, hi = -Infinity;
  for (const [, v] of pts) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const X = (t) => 2 + ((t - t0) / SPARK_MS) * (w - 4);
  const Y = (v) => hgt - 3 - ((v - lo) / (hi - lo)) * (hgt - 6);
  ctx.strokeStyle = "#4cc2ff";
  ctx.fillStyle = "#4cc2ff";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  const gap = 90000; // a missing 1-minute bucket breaks the line
  for (let i = 0; i < pts.length; i++) {
    const [t, v] = pts[i];
    const joined = i > 0 && t - pts[i - 1][0] <= gap;
    const next = i + 1 < pts.length && pts[i + 1][0] - t <= gap;
    if (joined) ctx.lineTo(X(t), Y(v)); else ctx.moveTo(X(t), Y(v));
    if (!joined && !next) ctx.fillRect(X(t) - 1.5, Y(v) - 1.5, 3, 3);
  }
  ctx.stroke();
}
