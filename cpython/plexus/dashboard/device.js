// One device: charts grouped by subsystem over a time range (live or
// history, see timerange.js), events as a list and as chart markers, latest
// values with their age, video tiles and command buttons.

import { api, sourcePath, LiveStream } from "./api.js";
import { h, clear, ago, stamp, formatValue, nameParts, download } from "./dom.js";
import { Series } from "./series.js";
import { MetricChart } from "./chart.js";
import { commandPanel } from "./commands.js";
import { videoPanel } from "./video.js";
import { queryMetric, queryEvents, readValue, newestReading } from "./data.js";
import { LIVE, HISTORY, DEFAULT, parseRange, fixed, intervalFor, BUCKET_MS, aroundNewest, describe } from "./timerange.js";
import { unitOf, subsystemOf } from "./units.js";

const AUTO_SELECT = 12; // charts opened by default on a first visit
const MAX_EVENTS = 500;
const RAW_PAGES = 5; // raw pages of up to 10,000 readings before buckets are asked for instead

// navigate(query): the router shows this device with another range.
export function deviceView(root, sourceId, params, navigate) {
  const state = {
    range: null,
    newest: null, // an offline device's newest reading (ms)
    skew: 0, // device clock minus browser clock, learned from the live stream
    info: null,
    latest: new Map(), // metric -> {value, t, isNumber}
    rows: new Map(), // metric -> table row parts
    charts: new Map(), // metric -> {chart, box, series, buckets, loaded}
    groups: new Map(), // subsystem -> grid element
    events: [], // [{t, metric, value, tags}] oldest first
    eventKeys: new Set(),
    filter: "",
    selected: new Set(loadSelection(sourceId) || []),
    userChose: loadSelection(sourceId) !== null,
    zoomStack: [],
    tableDirty: true,
    eventsDirty: true,
    stopped: false,
    loadSeq: 0,
  };
  window.plexusStats = { frames: 0, draws: 0, drawMs: 0, pointsIn: 0, lastFrameAt: 0 };

  // --- layout -------------------------------------------------------------------
  const dot = h("span", { class: "dot" });
  const stateText = h("span", { class: "device-state", text: "…" });
  const seen = h("span", { class: "muted last-seen" });
  const liveBadge = h("span", { class: "badge", text: "connecting" });
  const offlineNote = h("p", { class: "offline-note", hidden: true });
  const rangeText = h("span", { class: "range-text muted" });
  const backBtn = h("button", { type: "button", class: "zoom-back", text: "← Zoom out", disabled: true });
  // Back to the range before the last zoom; with none (a shared link), a
  // window four times as wide around the same middle.
  backBtn.addEventListener("click", () => {
    const prev = state.zoomStack.pop();
    if (prev) return navigate(prev, true);
    const r = state.range, mid = (r.from + r.to) / 2;
    navigate(fixed(mid - r.spanMs * 2, Math.min(Date.now(), mid + r.spanMs * 2)).key);
  });
  const rangeButtons = [];
  const button = (label, key, title) => {
    const b = h("button", { type: "button", class: "range", dataset: { range: key }, text: label, title });
    b.addEventListener("click", () => navigate(key));
    rangeButtons.push(b);
    return b;
  };
  const fromInput = h("input", { type: "datetime-local", class: "range-from", "aria-label": "from", step: 1 });
  const toInput = h("input", { type: "datetime-local", class: "range-to", "aria-label": "to", step: 1 });
  const custom = h("form", { class: "custom-range" }, fromInput, "–", toInput, h("button", { type: "submit", text: "Show" }));
  custom.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = Date.parse(fromInput.value), t = Date.parse(toInput.value);
    if (isFinite(f) && isFinite(t) && t > f) navigate(fixed(f, t).key);
  });
  const rangeBar = h("div", { class: "range-bar" },
    h("span", { class: "range-group" }, h("span", { class: "muted", text: "Live" }), LIVE.map(([k]) => button(k, "live=" + k, "last " + k + ", following"))),
    h("span", { class: "range-group" }, h("span", { class: "muted", text: "History" }), HISTORY.map(([k]) => button(k, "last=" + k, "the last " + k))),
    custom, backBtn, rangeText);
  const groupsBox = h("div", { class: "chart-groups" });
  const noCharts = h("p", { class: "muted no-charts", text: "Tick a metric under Latest values to chart it." });
  const table = h("tbody");
  const events = h("ol", { class: "events" });
  const eventCount = h("span", { class: "muted small event-count" });
  const eventFilter = h("input", { type: "search", class: "event-filter", placeholder: "filter by name", "aria-label": "filter events by name" });
  eventFilter.addEventListener("input", () => {
    state.filter = eventFilter.value.trim().toLowerCase();
    state.eventsDirty = true;
    redrawAll();
  });
  const cmdBox = h("div", { class: "commands" });
  const videoBox = h("div", { class: "videos" });
  const videoSection = h("section", { class: "panel video-section", hidden: true }, h("h2", { text: "Cameras" }), videoBox);
  const error = h("p", { class: "error", hidden: true });
  const page = h("section", { class: "device", dataset: { source: sourceId } },
    h("div", { class: "device-head" },
      h("a", { href: "#/", class: "back", text: "← Fleet" }),
      h("h1", {}, dot, " ", sourceId),
      stateText, seen, liveBadge),
    offlineNote, rangeBar, error,
    h("div", { class: "device-body" },
      h("div", { class: "main-col" }, videoSection, h("section", { class: "panel" }, h("h2", { text: "Charts" }), noCharts, groupsBox)),
      h("div", { class: "side-col" },
        h("section", { class: "panel events-panel" }, h("h2", {}, "Events ", eventCount), eventFilter, events),
        h("section", { class: "panel" }, h("h2", { text: "Latest values" }),
          h("table", { class: "latest" }, h("thead", {}, h("tr", {}, h("th", { text: "Chart" }), h("th", { text: "Metric" }), h("th", { text: "Value" }), h("th", { text: "Age" }))), table)),
        h("section", { class: "panel" }, h("h2", { text: "Commands" }), cmdBox))));
  root.append(page);

  const commands = commandPanel(cmdBox, sourceId);
  const video = videoPanel(videoBox, sourceId);

  // --- the range ----------------------------------------------------------------------
  function setRange(range) {
    state.range = range;
    for (const b of rangeButtons) b.classList.toggle("active", b.dataset.range === range.key);
    rangeText.textContent = describe(range);
    backBtn.disabled = range.live && state.zoomStack.length === 0;
    const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    fromInput.value = local(range.from);
    toInput.value = local(range.to);
    page.dataset.range = range.key;
    page.dataset.live = String(range.live);
    showBadge();
    loadRange();
  }

  // Every chart of the page reports the same drag (their cursors are in sync).
  function zoom(from, to) {
    const key = fixed(from, to).key;
    if (key === state.range.key) return;
    state.zoomStack.push(state.range.key);
    state.range = { ...state.range, key };
    navigate(key);
  }

  // The right edge of a live window: the newest reading's clock.
  const now = () => Date.now() + state.skew;
  const window_ = () => (state.range.live ? [now() - state.range.spanMs, now()] : [state.range.from, state.range.to]);

  // --- data in ------------------------------------------------------------------
  function takeLatest(metric, value, t, isNumber) {
    const prev = state.latest.get(metric);
    if (!prev || !(t < prev.t) || prev.value === undefined) state.latest.set(metric, { value, t, isNumber: isNumber || (prev && prev.isNumber) });
    state.tableDirty = true;
  }

  function addEvent(e) {
    const key = e.metric + "|" + e.t + "|" + JSON.stringify(e.value);
    if (state.eventKeys.has(key)) return;
    state.eventKeys.add(key);
    if (e.metric === "command_result" && e.value && typeof e.value === "object") commands.legacyResult(e.value);
    const r = state.range;
    if (r && !r.live && (e.t < r.from || e.t > r.to)) return; // outside the history shown
    let i = state.events.length;
    while (i > 0 && state.events[i - 1].t > e.t) i--;
    state.events.splice(i, 0, e);
    if (state.events.length > MAX_EVENTS) state.events.shift();
    state.eventsDirty = true;
  }

  function takeLive(p) {
    const metric = p.metric;
    const t = Number(p.timestamp ?? p.timestamp_ms);
    if (typeof metric !== "string" || !isFinite(t)) return;
    const v = readValueOf(p);
    const isNumber = typeof v === "number" && p.class !== "event";
    if (isNumber) {
      const c = state.charts.get(metric);
      if (c && state.range && state.range.live && c.series) c.series.add(t, v);
    } else {
      addEvent({ t, metric, value: v, tags: p.tags || {} });
    }
    takeLatest(metric, v, t, isNumber);
    window.plexusStats.pointsIn++;
  }

  function onLive(msg) {
    if (msg.type === "telemetry" && Array.isArray(msg.points)) {
      let newest = -Infinity;
      for (const p of msg.points) {
        if (p.source_id && p.source_id !== sourceId) continue;
        takeLive(p);
        const t = Number(p.timestamp);
        if (t > newest) newest = t;
      }
      if (isFinite(newest)) learnSkew(newest);
    } else if (msg.type === "event") {
      if (msg.source_id && msg.source_id !== sourceId) return;
      takeLive({ ...msg, class: "event" });
    } else if (msg.type === "command_result") {
      commands.legacyResult(msg);
    }
  }

  // Live windows end at the newest live reading, so a device whose clock
  // differs from this browser's still scrolls smoothly.
  let skewKnown = false;
  function learnSkew(newest) {
    const lead = newest - Date.now();
    if (!skewKnown || lead > state.skew) state.skew = lead;
    else state.skew += (lead - state.skew) * 0.02;
    skewKnown = true;
  }

  // The badge tells whether a live window is following the stream.
  function setLive(s) {
    liveBadge.dataset.state = s;
    showBadge();
  }
  function showBadge() {
    const live = !state.range || state.range.live;
    liveBadge.textContent = live ? liveBadge.dataset.state || "connecting" : "history";
    liveBadge.classList.toggle("history", !live);
  }

  const metricsStream = new LiveStream(sourcePath(sourceId, "/metrics/stream"), onLive, setLive);
  const logsStream = new LiveStream(sourcePath(sourceId, "/logs/stream"), onLive);

  function noteOffline() {
    const info = state.info;
    offlineNote.hidden = !info || !!info.online || !info.last_seen_ms;
    if (offlineNote.hidden) return;
    offlineNote.textContent = "Offline: last seen " + stamp(info.last_seen_ms) + " (" + ago(info.last_seen_ms) + ")." +
      (state.newest ? " Its newest reading is from " + stamp(state.newest) + "." : "");
  }

  async function loadInfo() {
    try {
      const info = await api.get(sourcePath(sourceId));
      state.info = info;
      dot.className = "dot " + (info.online ? "on" : "off");
      stateText.textContent = info.online ? "online" : "offline";
      page.dataset.online = String(!!info.online);
      seen.textContent = info.last_seen_ms ? "last seen " + ago(info.last_seen_ms) : "never seen";
      seen.title = info.last_seen_ms ? new Date(info.last_seen_ms).toString() : "";
      noteOffline();
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

  async function loadNames() {
    const q = (s) => sourcePath(sourceId, s);
    const [names, latest] = await Promise.all([
      api.get(q("/metrics")).catch(() => []),
      api.get(q("/metrics/latest")).catch(() => null),
    ]);
    // /metrics names only metrics (numbers); /metrics/latest covers the last
    // hour only, so an older metric is known chartable from its name alone.
    for (const m of Array.isArray(names) ? names : []) {
      if (!state.latest.has(m)) state.latest.set(m, { value: undefined, t: -Infinity, isNumber: true });
    }
    for (const [m, v] of Object.entries((latest && latest.metrics) || {})) {
      const prev = state.latest.get(m);
      if (!prev || prev.value === undefined) state.latest.set(m, { value: v, t: prev ? prev.t : -Infinity, isNumber: typeof v === "number" });
    }
    state.tableDirty = true;
    if (!state.userChose) autoSelect();
  }

  // Everything the range shows: each chart's data and the events.
  function loadRange() {
    const seq = ++state.loadSeq;
    for (const m of state.charts.keys()) loadChart(m, seq);
    loadEvents(seq);
  }

  async function loadEvents(seq) {
    try {
      const list = await queryEvents(sourceId, state.range, MAX_EVENTS);
      if (seq !== state.loadSeq) return;
      state.events = [];
      state.eventKeys.clear();
      for (const e of list) addEvent(e);
      state.eventsDirty = true;
      redrawAll();
    } catch (e) {
      /* the live stream still brings new events */
    }
  }

  // A chart's data for the range: raw readings when the window is short
  // enough (paged while the gateway truncates), else buckets. A live window
  // keeps raw readings in a Series that the stream appends to.
  async function loadChart(metric, seq) {
    const c = state.charts.get(metric);
    if (!c) return;
    const range = state.range;
    let interval = intervalFor(range.spanMs);
    let raw = null, buckets = null;
    try {
      if (interval === "raw") {
        raw = await loadRaw(metric, range);
        if (!raw) interval = "1m";
      }
      if (interval !== "raw") {
        const b = await queryMetric(sourceId, metric, range, interval);
        buckets = { ...b, bucketMs: BUCKET_MS[b.interval] || BUCKET_MS[interval] };
      }
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      return;
    }
    if (seq !== state.loadSeq || state.charts.get(metric) !== c) return;
    c.interval = interval;
    c.box.dataset.interval = interval;
    if (range.live) {
      c.series = new Series(65536, range.spanMs + 60000);
      if (raw) c.series.merge(raw.t, raw.v);
      c.buckets = buckets;
    } else {
      c.series = null;
      c.raw = raw;
      c.buckets = buckets;
    }
    // The newest reading dates the latest value, when the range reaches it.
    const xs = raw ? raw.t : buckets.t;
    const reachesNewest = range.live || range.to >= Date.now() - 60000 || (state.newest !== null && range.to >= state.newest);
    if (xs.length && reachesNewest) {
      const t = xs[xs.length - 1];
      const v = raw ? raw.v[raw.v.length - 1] : buckets.avg[buckets.avg.length - 1];
      const prev = state.latest.get(metric);
      if (!prev || !isFinite(prev.t) || prev.t < t) takeLatest(metric, prev && prev.value !== undefined && !isFinite(prev.t) ? prev.value : v, t, true);
    }
    c.drawn = "";
    drawChart(metric, c, true);
  }

  async function loadRaw(metric, range) {
    const t = [], v = [];
    let r = range;
    for (let page = 0; page < RAW_PAGES; page++) {
      const q = await queryMetric(sourceId, metric, r, "raw");
      for (let i = 0; i < q.t.length; i++) {
        if (typeof q.value[i] !== "number") continue;
        if (t.length && (q.t[i] < t[t.length - 1] || (q.t[i] === t[t.length - 1] && q.value[i] === v[v.length - 1]))) continue;
        t.push(q.t[i]);
        v.push(q.value[i]);
      }
      if (!q.truncated) return { t, v };
      const end = range.live ? Date.now() + 60000 : range.to;
      r = fixed(q.t[q.t.length - 1], end);
    }
    return null;
  }

  // --- selection and charts ---------------------------------------------------------
  function autoSelect() {
    for (const [m, l] of Array.from(state.latest).sort((a, b) => a[0].localeCompare(b[0]))) {
      if (state.selected.size >= AUTO_SELECT) break;
      if (l.isNumber) state.selected.add(m);
    }
    syncCharts();
  }

  function toggle(metric, on) {
    state.userChose = true;
    if (on) state.selected.add(metric); else state.selected.delete(metric);
    saveSelection(sourceId, state.selected);
    syncCharts();
  }

  function groupFor(metric) {
    const name = subsystemOf(metric);
    let g = state.groups.get(name);
    if (!g) {
      const grid = h("div", { class: "charts" });
      const section = h("section", { class: "chart-group", dataset: { group: name } }, h("h3", { text: name || "other" }), grid);
      const after = Array.from(state.groups.keys()).sort().find((k) => k > name);
      groupsBox.insertBefore(section, after !== undefined ? state.groups.get(after).section : null);
      g = { grid, section };
      state.groups.set(name, g);
    }
    return g;
  }

  function syncCharts() {
    for (const [m, c] of state.charts) {
      if (!state.selected.has(m)) {
        c.chart.destroy();
        c.box.remove();
        state.charts.delete(m);
      }
    }
    for (const m of Array.from(state.selected).sort()) {
      if (state.charts.has(m)) continue;
      const body = h("div", { class: "chart-body" });
      const csv = h("button", { type: "button", class: "csv small", text: "CSV", title: "download what this chart shows" });
      const unit = unitOf(m);
      const box = h("div", { class: "chart", dataset: { metric: m } },
        h("div", { class: "chart-head" }, h("span", { class: "chart-title" }, nameParts(m), unit ? h("span", { class: "muted", text: " (" + unit + ")" }) : null), csv),
        body);
      const g = groupFor(m);
      const after = Array.from(g.grid.children).find((el) => el.dataset.metric > m);
      g.grid.insertBefore(box, after || null);
      const chart = new MetricChart(body, m, { markers: visibleEvents, onZoom: zoom, syncKey: "device-" + sourceId });
      const c = { chart, box, series: null, raw: null, buckets: null, drawn: "", phase: Math.random() };
      csv.addEventListener("click", () => download(csvName(m, chart), chart.csv()));
      state.charts.set(m, c);
      if (state.range) loadChart(m, state.loadSeq);
    }
    for (const [name, g] of state.groups) {
      if (!g.grid.children.length) {
        g.section.remove();
        state.groups.delete(name);
      }
    }
    noCharts.hidden = state.charts.size > 0;
    state.tableDirty = true;
  }

  function csvName(metric, chart) {
    const t = (ms) => new Date(ms).toISOString().replace(/[:.]/g, "-");
    return sourceId + "_" + metric + "_" + t(chart.from) + "_" + t(chart.to) + ".csv";
  }

  // --- drawing: once per animation frame at most -------------------------------------
  function drawChart(metric, c, force) {
    const [from, to] = window_();
    const s = c.series;
    const plotW = Math.max(100, c.box.clientWidth - 70);
    // A live chart is redrawn when its window has moved by a pixel: new
    // readings in between land within that pixel anyway. Each chart moves
    // at its own phase, so they do not all redraw in the same frame.
    const key = Math.floor(from / ((to - from) / plotW) + c.phase) + "|" + state.events.length + "|" + state.filter;
    if (!force && key === c.drawn) return false;
    c.drawn = key;
    if (s) {
      const raw = { t: s.t.subarray(s.start, s.end), v: s.v.subarray(s.start, s.end) };
      if (c.buckets) c.chart.setBuckets(c.buckets, from, to, raw);
      else c.chart.setRaw(raw, from, to);
    } else if (c.buckets) {
      c.chart.setBuckets(c.buckets, from, to);
    } else if (c.raw) {
      c.chart.setRaw(c.raw, from, to);
    } else {
      return false;
    }
    return true;
  }

  function redrawAll() {
    for (const [m, c] of state.charts) drawChart(m, c, true);
  }

  function visibleEvents() {
    if (!state.filter) return state.events;
    return state.events.filter((e) => e.metric.toLowerCase().includes(state.filter));
  }

  function renderEvents() {
    const shown = visibleEvents();
    clear(events);
    for (let i = shown.length - 1; i >= 0; i--) {
      const e = shown[i];
      const text = typeof e.value === "object" && e.value !== null ? JSON.stringify(e.value) : formatValue(e.value);
      events.append(h("li", { class: "event-item", dataset: { metric: e.metric, t: String(e.t) } },
        h("time", { text: stamp(e.t), datetime: new Date(e.t).toISOString() }), " ", h("strong", {}, nameParts(e.metric)), " ", h("span", { text }),
        e.tags && Object.keys(e.tags).length ? h("span", { class: "muted", text: " " + JSON.stringify(e.tags) }) : null));
    }
    eventCount.textContent = shown.length === state.events.length ? String(shown.length) : shown.length + " of " + state.events.length;
    if (!shown.length) events.append(h("li", { class: "muted no-events", text: state.events.length ? "No event matches." : "No events in this range." }));
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
        const tr = h("tr", { dataset: { metric: m } }, h("td", {}, box), h("td", { class: "name" }, nameParts(m)), value, age);
        table.append(tr);
        state.rows.set(m, { box, value, age });
      }
      if (!state.userChose && state.selected.size < AUTO_SELECT) autoSelect();
    }
    for (const [m, r] of state.rows) {
      const l = state.latest.get(m);
      r.box.checked = state.selected.has(m);
      r.box.disabled = !l.isNumber;
      const unit = l.isNumber ? unitOf(m) : "";
      const text = l.value === undefined ? "–" : formatValue(l.value) + (unit ? " " + unit : "");
      if (r.value.textContent !== text) r.value.textContent = text;
      const a = isFinite(l.t) ? ago(l.t - state.skew) : "";
      if (r.age.textContent !== a) r.age.textContent = a;
    }
  }

  let lastTable = 0;
  function frame(now) {
    if (state.stopped) return;
    const stats = window.plexusStats;
    stats.frames++;
    stats.lastFrameAt = now;
    if (state.range && state.range.live) for (const [m, c] of state.charts) drawChart(m, c, false);
    if (state.eventsDirty) {
      state.eventsDirty = false;
      renderEvents();
      if (!(state.range && state.range.live)) redrawAll();
    }
    if (now - lastTable > 250 || (state.tableDirty && now - lastTable > 50)) {
      lastTable = now;
      state.tableDirty = false;
      renderTable();
    }
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);

  // The first range: the URL's, else live; a device that is offline opens
  // on the hour before its newest reading when that is older than the live
  // window (its readings can be older than its last contact: a board
  // replaying its flash log, a clock that is off).
  async function start() {
    loadInfo();
    await loadNames();
    let range = parseRange(params, Date.now());
    if (!range) {
      const info = state.info || (await api.get(sourcePath(sourceId)).catch(() => null));
      const live = parseRange(new URLSearchParams(DEFAULT), Date.now());
      if (info && !info.online) {
        const newest = await newestReading(sourceId, info.last_seen_ms).catch(() => null);
        state.newest = newest;
        noteOffline();
        if (newest !== null && newest < Date.now() - live.spanMs) {
          navigate(aroundNewest(newest).key, true);
          return;
        }
      }
      range = live;
    }
    setRange(range);
  }
  start();

  return {
    // The router calls this when only the range in the URL changed.
    update(newParams) {
      const r = parseRange(newParams, Date.now()) || parseRange(new URLSearchParams(DEFAULT), Date.now());
      setRange(r);
    },
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

// A live event's value: the stream sends JSON values, the logs API strings.
function readValueOf(p) {
  return p.class === "event" ? readValue(p.value) : p.value;
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
