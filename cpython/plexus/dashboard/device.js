// One device: live charts of the selected metrics fed by the live stream,
// events as markers on the time axis, latest values, video tiles and command
// buttons.

import { api, sourcePath, LiveStream } from "./api.js";
import { h, clear, ago, clock, formatValue } from "./dom.js";
import { Series } from "./series.js";
import { TimeChart } from "./chart.js";
import { commandPanel } from "./commands.js";
import { videoPanel } from "./video.js";

const WINDOWS = [["10 s", 10000], ["1 min", 60000], ["5 min", 300000]];
const AUTO_SELECT = 4; // charts opened by default on a first visit
const MAX_EVENTS = 200;

export function deviceView(root, sourceId) {
  const state = {
    windowMs: 60000,
    skew: null, // device clock minus browser clock, learned from the live stream
    series: new Map(), // metric -> Series (numeric readings)
    latest: new Map(), // metric -> {value, t}
    rows: new Map(), // metric -> table row parts
    charts: new Map(), // metric -> {chart, box}
    markers: [], // [{t, label}] time-ordered, shared by every chart
    eventKeys: new Set(),
    selected: new Set(loadSelection(sourceId) || []),
    userChose: loadSelection(sourceId) !== null,
    tableDirty: true,
    stopped: false,
  };
  window.plexusStats = { frames: 0, draws: 0, drawMs: 0, pointsIn: 0, lastFrameAt: 0 };

  // --- layout -------------------------------------------------------------------
  const dot = h("span", { class: "dot" });
  const stateText = h("span", { class: "device-state", text: "…" });
  const seen = h("span", { class: "muted" });
  const liveBadge = h("span", { class: "badge", text: "connecting" });
  const windowSel = h("select", { class: "window-select", "aria-label": "time window" },
    WINDOWS.map(([label, ms]) => h("option", { value: ms, text: label })));
  windowSel.value = String(state.windowMs);
  windowSel.addEventListener("change", () => {
    state.windowMs = Number(windowSel.value);
    for (const m of state.charts.keys()) backfill(m);
  });
  const grid = h("div", { class: "charts" });
  const noCharts = h("p", { class: "muted no-charts", text: "Tick a metric on the right to chart it." });
  const table = h("tbody");
  const events = h("ol", { class: "events" });
  const cmdBox = h("div", { class: "commands" });
  const videoBox = h("div", { class: "videos" });
  const videoSection = h("section", { class: "panel video-section", hidden: true }, h("h2", { text: "Cameras" }), videoBox);
  const error = h("p", { class: "error", hidden: true });
  const page = h("section", { class: "device", dataset: { source: sourceId } },
    h("div", { class: "device-head" },
      h("a", { href: "#/", class: "back", text: "← Fleet" }),
      h("h1", {}, dot, " ", sourceId),
      stateText, seen, liveBadge,
      h("label", { class: "window" }, "Window ", windowSel)),
    error,
    h("div", { class: "device-body" },
      h("div", { class: "main-col" }, videoSection, h("section", { class: "panel" }, h("h2", { text: "Charts" }), noCharts, grid)),
      h("div", { class: "side-col" },
        h("section", { class: "panel" }, h("h2", { text: "Latest values" }),
          h("table", { class: "latest" }, h("thead", {}, h("tr", {}, h("th", { text: "Chart" }), h("th", { text: "Metric" }), h("th", { text: "Value" }), h("th", { text: "Age" }))), table)),
        h("section", { class: "panel" }, h("h2", { text: "Commands" }), cmdBox),
        h("section", { class: "panel" }, h("h2", { text: "Events" }), events))));
  root.append(page);

  const commands = commandPanel(cmdBox, sourceId);
  const video = videoPanel(videoBox, sourceId);

  // --- data in --------------------------------------------------------------------
  function seriesFor(metric) {
    let s = state.series.get(metric);
    if (!s) {
      s = new Series();
      state.series.set(metric, s);
    }
    return s;
  }

  function takePoint(p, live) {
    const metric = p.metric;
    const t = Number(p.timestamp ?? p.timestamp_ms);
    if (typeof metric !== "string" || !isFinite(t)) return;
    const v = p.value;
    const isNumber = typeof v === "number" && p.class !== "event";
    if (isNumber) seriesFor(metric).add(t, v);
    else addEvent(metric, v, t, p.tags);
    const prev = state.latest.get(metric);
    if (!prev || t >= prev.t) state.latest.set(metric, { value: v, t, isNumber });
    if (!state.rows.has(metric)) state.tableDirty = true;
    if (live) window.plexusStats.pointsIn++;
  }

  function addEvent(metric, value, t, tags) {
    const key = metric + "|" + t + "|" + JSON.stringify(value);
    if (state.eventKeys.has(key)) return;
    state.eventKeys.add(key);
    let i = state.markers.length;
    while (i > 0 && state.markers[i - 1].t > t) i--;
    state.markers.splice(i, 0, { t, label: metric });
    if (state.markers.length > MAX_EVENTS) state.markers.shift();
    const text = typeof value === "object" && value !== null ? JSON.stringify(value) : formatValue(value);
    const item = h("li", { class: "event-item", dataset: { metric, t: String(t) } },
      h("time", { text: clock(t) }), " ", h("strong", { text: metric }), " ", h("span", { text: text }),
      tags && Object.keys(tags).length ? h("span", { class: "muted", text: " " + JSON.stringify(tags) }) : null);
    // Newest first.
    const after = Array.from(events.children).find((li) => Number(li.dataset.t) < t);
    events.insertBefore(item, after || null);
    while (events.children.length > MAX_EVENTS) events.lastChild.remove();
    if (metric === "command_result" && value && typeof value === "object") commands.legacyResult(value);
  }

  function onLive(msg) {
    if (msg.type === "telemetry" && Array.isArray(msg.points)) {
      let newest = -Infinity;
      for (const p of msg.points) {
        if (p.source_id && p.source_id !== sourceId) continue;
        takePoint(p, true);
        const t = Number(p.timestamp);
        if (t > newest) newest = t;
      }
      if (isFinite(newest)) learnSkew(newest);
    } else if (msg.type === "event") {
      if (msg.source_id && msg.source_id !== sourceId) return;
      takePoint({ ...msg, class: "event" }, true);
    } else if (msg.type === "command_result") {
      commands.legacyResult(msg);
    }
  }

  // The right edge of the charts follows the newest live reading, so a device
  // whose clock differs from this browser's still scrolls smoothly.
  function learnSkew(newest) {
    const lead = newest - Date.now();
    if (state.skew === null || lead > state.skew) state.skew = lead;
    else state.skew += (lead - state.skew) * 0.02;
  }

  function setLive(s) {
    liveBadge.textContent = s;
    liveBadge.dataset.state = s;
  }

  const metricsStream = new LiveStream(sourcePath(sourceId, "/metrics/stream"), onLive, setLive);
  const logsStream = new LiveStream(sourcePath(sourceId, "/logs/stream"), onLive);

  async function loadInfo() {
    try {
      const info = await api.get(sourcePath(sourceId));
      dot.className = "dot " + (info.online ? "on" : "off");
      stateText.textContent = info.online ? "online" : "offline";
      page.dataset.online = String(!!info.online);
      seen.textContent = "last seen " + ago(info.last_seen_ms);
      commands.update(info.commands);
      error.hidden = true;
    } catch (e) {
      if (e.status === 404) {
        stateText.textContent = "not seen yet";
        commands.update([]);
      } else {
        error.textContent = e.message;
        error.hidden = false;
      }
    }
    if (!state.stopped) state.infoTimer = setTimeout(loadInfo, 2000);
  }

  async function loadInitial() {
    const q = (s) => sourcePath(sourceId, s);
    const [names, latest, evs] = await Promise.all([
      api.get(q("/metrics")).catch(() => []),
      api.get(q("/metrics/latest")).catch(() => null),
      api.get(q("/events?last=1h&limit=" + MAX_EVENTS)).catch(() => []),
    ]);
    for (const m of Array.isArray(names) ? names : []) {
      if (!state.latest.has(m)) state.latest.set(m, { value: undefined, t: -Infinity, isNumber: false });
    }
    const values = (latest && latest.metrics) || {};
    for (const [m, v] of Object.entries(values)) {
      const prev = state.latest.get(m);
      if (!prev || prev.value === undefined) state.latest.set(m, { value: v, t: prev ? prev.t : -Infinity, isNumber: typeof v === "number" });
    }
    for (const e of Array.isArray(evs) ? evs : []) takePoint({ ...e, class: "event" }, false);
    state.tableDirty = true;
    if (!state.userChose) autoSelect();
  }

  // History for a chart, so it is not empty until the next reading.
  async function backfill(metric) {
    const last = Math.ceil(state.windowMs / 60000) + "m";
    try {
      const res = await api.get(sourcePath(sourceId, "/metrics/query?metrics=" + encodeURIComponent(metric) + "&last=" + last + "&interval=raw"));
      const col = res && res.series && res.series[metric];
      if (!col) return;
      const ts = col.timestamp_ms || [];
      const vs = col.value || col.avg || [];
      const tt = [], vv = [];
      for (let i = 0; i < ts.length; i++) {
        if (typeof vs[i] === "number" && (!tt.length || Number(ts[i]) >= tt[tt.length - 1])) {
          tt.push(Number(ts[i]));
          vv.push(vs[i]);
        }
      }
      seriesFor(metric).merge(tt, vv);
      // Until a live reading arrives, the newest stored one dates the latest value.
      const prev = state.latest.get(metric);
      if (prev && !isFinite(prev.t) && tt.length) prev.t = tt[tt.length - 1];
      if (ts.length && state.skew === null) state.skew = Math.max(0, Number(ts[ts.length - 1]) - Date.now());
    } catch (e) {
      /* the live stream still fills the chart */
    }
  }

  // --- selection and charts ---------------------------------------------------------
  function autoSelect() {
    for (const [m, l] of state.latest) {
      if (state.selected.size >= AUTO_SELECT) break;
      if (l.isNumber || state.series.has(m)) state.selected.add(m);
    }
    syncCharts();
  }

  function toggle(metric, on) {
    state.userChose = true;
    if (on) state.selected.add(metric); else state.selected.delete(metric);
    saveSelection(sourceId, state.selected);
    syncCharts();
  }

  function syncCharts() {
    for (const [m, c] of state.charts) {
      if (!state.selected.has(m)) {
        c.chart.destroy();
        c.box.remove();
        state.charts.delete(m);
      }
    }
    for (const m of state.selected) {
      if (state.charts.has(m)) continue;
      const body = h("div", { class: "chart-body" });
      const box = h("div", { class: "chart", dataset: { metric: m } }, h("div", { class: "chart-title", text: m }), body);
      grid.append(box);
      state.charts.set(m, { chart: new TimeChart(body, m, seriesFor(m), state.markers), box });
      backfill(m);
    }
    noCharts.hidden = state.charts.size > 0;
    state.tableDirty = true;
  }

  function renderTable() {
    const names = Array.from(state.latest.keys()).sort();
    if (names.some((m) => !state.rows.has(m)) || names.length !== state.rows.size) {
      clear(table);
      state.rows.clear();
      for (const m of names) {
        const box = h("input", { type: "checkbox", "aria-label": "chart " + m });
        box.addEventListener("change", () => toggle(m, box.checked));
        const value = h("td", { class: "value" });
        const age = h("td", { class: "age muted" });
        const tr = h("tr", { dataset: { metric: m } }, h("td", {}, box), h("td", { class: "name", text: m }), value, age);
        table.append(tr);
        state.rows.set(m, { box, value, age });
      }
      if (!state.userChose && state.selected.size < AUTO_SELECT) autoSelect();
    }
    for (const [m, r] of state.rows) {
      const l = state.latest.get(m);
      r.box.checked = state.selected.has(m);
      r.box.disabled = !(l.isNumber || state.series.has(m));
      const text = l.value === undefined ? "–" : formatValue(l.value);
      if (r.value.textContent !== text) r.value.textContent = text;
      const a = isFinite(l.t) ? ago(l.t - (state.skew || 0)) : "";
      if (r.age.textContent !== a) r.age.textContent = a;
    }
  }

  // --- drawing: once per animation frame at most -------------------------------------
  let lastTable = 0;
  function frame(now) {
    if (state.stopped) return;
    const stats = window.plexusStats;
    stats.frames++;
    stats.lastFrameAt = now;
    const right = Date.now() + (state.skew || 0);
    const t0 = performance.now();
    let drew = 0;
    for (const { chart } of state.charts.values()) if (chart.draw(right, state.windowMs)) drew++;
    if (drew) {
      stats.draws++;
      stats.drawMs += performance.now() - t0;
    }
    if (now - lastTable > 250 || (state.tableDirty && now - lastTable > 50)) {
      lastTable = now;
      state.tableDirty = false;
      renderTable();
    }
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);

  loadInfo();
  loadInitial();

  return {
    destroy() {
      state.stopped = true;
      clearTimeout(state.infoTimer);
      metricsStream.close();
      logsStream.close();
      video.destroy();
      commands.destroy();
      for (const c of state.charts.values()) c.chart.destroy();
    },
  };
}

function loadSelection(sourceId) {
  try {
    const v = JSON.parse(localStorage.getItem("plexus.charts." + sourceId));
    return Array.isArray(v) ? v : null;
  } catch (e) {
    return null;
  }
}

function saveSelection(sourceId, set) {
  try {
    localStorage.setItem("plexus.charts." + sourceId, JSON.stringify(Array.from(set)));
  } catch (e) {
    /* private mode: the selection just is not remembered */
  }
}
