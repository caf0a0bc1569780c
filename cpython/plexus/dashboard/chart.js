// One metric's chart, drawn by uPlot (vendor/uPlot.iife.min.js, put there by
// the package build). Three kinds of data:
//   raw      readings, one line; a lone reading is a dot
//   buckets  min/max/avg per bucket: a band from min to max with the mean line
//   mixed    live view whose older part only came as buckets, newer part raw
// A gap (no reading for much longer than the usual spacing, or a missing
// bucket) breaks the line. Events are thin vertical markers drawn before
// the data, so the data is always on top. Dragging across a chart zooms.

import { formatValue } from "./dom.js";
import { unitOf } from "./units.js";

const COLORS = { line: "#4cc2ff", band: "rgba(76, 194, 255, 0.22)", edge: "rgba(76, 194, 255, 0.45)",
                 marker: "rgba(255, 179, 71, 0.55)", axis: "#8a94a3", grid: "#262d36" };
const HEIGHT = 170;

export class MetricChart {
  // opts: {markers(): [{t}], onZoom(from, to), syncKey}
  constructor(container, metric, opts) {
    this.el = container;
    this.metric = metric;
    this.unit = unitOf(metric);
    this.opts = opts;
    this.mode = null;
    this.u = null;
    this.from = 0;
    this.to = 1;
    this.data = null; // what the chart was given (see set*)
    this.lone = {}; // series index -> indices of lone points, found with the gaps
    this.timeGaps = {}; // series index -> how many breaks in time
    this.dots = {}; // series index -> "all" or the lone indices drawn as dots
    this.gapMs = Infinity;
    this.observer = new ResizeObserver(() => {
      const size = this.size();
      if (this.u && (size.width !== this.u.width || size.height !== this.u.height)) this.u.setSize(size);
    });
    this.observer.observe(container);
  }

  size() {
    return { width: Math.max(200, Math.floor(this.el.clientWidth)), height: HEIGHT };
  }

  // raw: {t, v} (arrays or typed arrays, time-ordered)
  setRaw(raw, from, to) {
    this.data = { mode: "raw", raw };
    this.gapMs = gapFor(raw.t);
    this.show(from, to);
  }

  // b: {t, min, max, avg, count, bucketMs}; raw (optional): newer readings
  setBuckets(b, from, to, raw) {
    this.data = { mode: raw && raw.t.length ? "mixed" : "buckets", buckets: b, raw };
    this.gapMs = b.bucketMs * 1.5;
    this.show(from, to);
  }

  // Redraw for the window [from, to] (ms).
  show(from, to) {
    this.from = from;
    this.to = to;
    const d = this.data;
    if (!d) return;
    if (this.mode !== d.mode) this.build(d.mode);
    let aligned;
    if (d.mode === "raw") {
      aligned = [d.raw.t, d.raw.v];
    } else if (d.mode === "buckets") {
      aligned = [d.buckets.t, d.buckets.avg, d.buckets.min, d.buckets.max];
    } else {
      aligned = mixed(d.buckets, d.raw);
    }
    this.u.setData(aligned);
  }

  build(mode) {
    if (this.u) this.u.destroy();
    this.mode = mode;
    const unit = this.unit ? " " + this.unit : "";
    const fmt = (u, v) => (v === null || v === undefined ? "–" : formatValue(v) + unit);
    const gaps = (u, sidx, i0, i1, nullGaps) => this.gaps(u, sidx, i0, i1, nullGaps);
    const points = { size: 5, filter: (u, sidx, show) => {
      this.dots[sidx] = show ? "all" : this.lone[sidx];
      return show ? null : this.lone[sidx] || null;
    } };
    const line = { label: "value", stroke: COLORS.line, width: 1.5, value: fmt, gaps, points };
    const series = [{ value: "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}" }];
    const bands = [];
    if (mode !== "raw") {
      series.push({ ...line, label: "avg" });
      series.push({ label: "min", stroke: COLORS.edge, width: 1, value: fmt, gaps, points: { show: false } });
      series.push({ label: "max", stroke: COLORS.edge, width: 1, value: fmt, gaps, points: { show: false } });
      bands.push({ series: [3, 2], fill: COLORS.band });
    }
    if (mode !== "buckets") series.push(line);
    const axis = { stroke: COLORS.axis, grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.grid, width: 1 } };
    this.u = new uPlot({
      ...this.size(),
      ms: 1,
      series,
      bands,
      scales: {
        x: { time: true, range: () => [this.from, this.to] },
        y: { range: (u, lo, hi) => fitRange(lo, hi) },
      },
      axes: [
        { ...axis, space: 70 },
        { ...axis, size: 58, values: (u, splits) => splits.map((v) => formatValue(v)), label: this.unit || undefined, labelSize: this.unit ? 16 : 0 },
      ],
      cursor: { drag: { x: true, y: false, setScale: false }, sync: { key: this.opts.syncKey || "plexus" }, bind: { dblclick: () => null } },
      legend: { live: true },
      hooks: {
        drawClear: [(u) => { this.drawStart = performance.now(); this.drawMarkers(u); }],
        setSelect: [(u) => this.selected(u)],
        draw: [(u) => { this.describe(u); countDraw(performance.now() - this.drawStart); }],
      },
    }, [[]].concat(series.slice(1).map(() => [])), this.el);
  }

  // Breaks in time (not only nulls) become gaps; a point with a gap on both
  // sides is remembered so it is drawn as a dot.
  gaps(u, sidx, i0, i1, nullGaps) {
    const xs = u.data[0], ys = u.data[sidx];
    const px = (x) => Math.round(u.valToPos(x, "x", true));
    const gaps = nullGaps.slice();
    const lone = [];
    let prev = -1, prevGap = true, timeGaps = 0;
    for (let i = i0; i <= i1; i++) {
      if (ys[i] === null || ys[i] === undefined) continue;
      const gapBefore = prev < 0 || xs[i] - xs[prev] > this.gapMs || hasNullBetween(ys, prev, i);
      if (prev >= 0 && xs[i] - xs[prev] > this.gapMs) {
        gaps.push([px(xs[prev]), px(xs[i])]);
        timeGaps++;
      }
      if (prev >= 0 && prevGap && gapBefore) lone.push(prev);
      prevGap = gapBefore;
      prev = i;
    }
    if (prev >= 0 && prevGap) lone.push(prev);
    this.lone[sidx] = lone.length ? lone : null;
    this.timeGaps[sidx] = timeGaps;
    gaps.sort((a, b) => a[0] - b[0]);
    return gaps;
  }

  drawMarkers(u) {
    const marks = this.opts.markers ? this.opts.markers() : [];
    const { left, top, width, height } = u.bbox;
    const ctx = u.ctx;
    let n = 0;
    ctx.save();
    ctx.fillStyle = COLORS.marker;
    const w = Math.max(1, Math.round(devicePixelRatio || 1));
    for (const m of marks) {
      if (m.t < this.from || m.t > this.to) continue;
      const x = Math.round(u.valToPos(m.t, "x", true));
      if (x < left || x > left + width) continue;
      ctx.fillRect(x, top, w, height);
      n++;
    }
    ctx.restore();
    this.el.dataset.markers = String(n);
  }

  selected(u) {
    const { left, width } = u.select;
    if (width < 5) return;
    const from = u.posToVal(left, "x"), to = u.posToVal(left + width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    if (this.opts.onZoom) this.opts.onZoom(from, to);
  }

  // What was drawn, for people hovering and for tests.
  describe(u) {
    const xs = u.data[0];
    const [i0, i1] = window_(xs, this.from, this.to);
    const d = this.el.dataset;
    d.mode = this.mode;
    d.points = String(i1 - i0);
    d.lastTs = i1 > i0 ? String(xs[i1 - 1]) : "";
    d.from = String(Math.round(this.from));
    d.to = String(Math.round(this.to));
    d.bands = String(u.bands ? u.bands.length : 0);
    let dots = 0, gaps = 0;
    u.series.forEach((s, i) => {
      if (s.label !== "value" && s.label !== "avg") return;
      const shown = this.dots[i];
      if (shown === "all") {
        const [a, b] = window_(xs, this.from, this.to);
        for (let k = a; k < b; k++) if (u.data[i][k] !== null) dots++;
      } else if (shown) dots += shown.length;
      gaps += this.timeGaps[i] || 0;
    });
    d.dots = String(dots);
    d.gaps = String(gaps);
  }

  // CSV of what the chart shows: the readings or buckets inside its window.
  csv() {
    const d = this.data;
    const rows = [];
    const iso = (t) => new Date(t).toISOString();
    if (d && d.buckets) {
      const b = d.buckets;
      rows.push(d.raw && d.raw.t.length ? "timestamp_ms,time,min,max,avg,count,value" : "timestamp_ms,time,min,max,avg,count");
      const [i0, i1] = window_(b.t, this.from, this.to);
      for (let i = i0; i < i1; i++) rows.push([b.t[i], iso(b.t[i]), b.min[i], b.max[i], b.avg[i], b.count[i]].join(","));
    } else {
      rows.push("timestamp_ms,time,value");
    }
    const r = d && d.raw;
    if (r) {
      const [i0, i1] = window_(r.t, this.from, this.to);
      const pad = d.buckets ? ",,,," : "";
      for (let i = i0; i < i1; i++) rows.push(r.t[i] + "," + iso(r.t[i]) + "," + pad + r.v[i]);
    }
    return rows.join("\n") + "\n";
  }

  destroy() {
    this.observer.disconnect();
    if (this.u) this.u.destroy();
  }
}

// Draws and their time, for tools/bench_dashboard.py.
function countDraw(ms) {
  const s = window.plexusStats;
  if (!s) return;
  s.draws++;
  s.drawMs += ms;
}

// Usual spacing of readings: the median step, looked at near the end. A step
// 2.5 times that is a gap (a 10 s sensor that misses two readings).
function gapFor(ts) {
  const n = ts.length;
  if (n < 3) return Infinity;
  const steps = [];
  for (let i = Math.max(1, n - 200); i < n; i++) steps.push(ts[i] - ts[i - 1]);
  steps.sort((a, b) => a - b);
  return Math.max(1, steps[steps.length >> 1]) * 2.5;
}

function hasNullBetween(ys, a, b) {
  for (let i = a + 1; i < b; i++) if (ys[i] === null) return true;
  return false;
}

// Indices [i0, i1) of the values of sorted xs inside [from, to].
function window_(xs, from, to) {
  const lb = (v) => {
    let lo = 0, hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
  };
  let i1 = lb(to);
  if (i1 < xs.length && xs[i1] === to) i1++;
  return [lb(from), i1];
}

// Buckets, then raw readings newer than the last bucket, on one time axis.
function mixed(b, raw) {
  const cut = raw.t.length ? raw.t[0] : Infinity;
  let nb = 0;
  while (nb < b.t.length && b.t[nb] < cut) nb++;
  const n = nb + raw.t.length;
  const x = new Array(n), avg = new Array(n).fill(null), mn = new Array(n).fill(null), mx = new Array(n).fill(null), v = new Array(n).fill(null);
  for (let i = 0; i < nb; i++) {
    x[i] = b.t[i]; avg[i] = b.avg[i]; mn[i] = b.min[i]; mx[i] = b.max[i];
  }
  for (let j = 0; j < raw.t.length; j++) {
    x[nb + j] = raw.t[j]; v[nb + j] = raw.v[j];
  }
  return [x, avg, mn, mx, v];
}

// The y range: the data with a little room, never a zero-height range.
export function fitRange(lo, hi) {
  if (lo === null || hi === null || !isFinite(lo) || !isFinite(hi)) return [0, 1];
  if (hi - lo < 1e-9) {
    const pad = Math.abs(lo) * 0.05 || 1;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}
