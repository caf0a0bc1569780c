// A small hand-written canvas line chart for one metric over a scrolling
// time window, with events drawn as markers on the time axis. When there are
// more readings than pixels it draws min/max per pixel column, so a chart
// costs about the same at 1 Hz and at 1 kHz.

import { clock, formatValue } from "./dom.js";

const PAD = { left: 52, right: 10, top: 8, bottom: 20 };

export class TimeChart {
  constructor(container, name, series, markers) {
    this.name = name;
    this.series = series;
    this.markers = markers; // shared array of {t, label}, time-ordered
    this.canvas = document.createElement("canvas");
    this.canvas.className = "chart-canvas";
    container.append(this.canvas);
    this.el = container;
    this.ctx = this.canvas.getContext("2d");
    this.width = 0;
    this.height = 0;
    this.drawnKey = "";
    this.resize();
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(container);
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(50, Math.floor(r.width));
    this.height = Math.max(40, Math.floor(r.height));
    this.canvas.width = Math.floor(this.width * dpr);
    this.canvas.height = Math.floor(this.height * dpr);
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const style = getComputedStyle(this.el);
    const color = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    this.colors = {
      fg: color("--chart-fg", "#aaa"), grid: color("--chart-grid", "#333"),
      line: color("--chart-line", "#4cc2ff"), mark: color("--chart-marker", "#ffb347"),
    };
    this.drawnKey = "";
  }

  destroy() {
    this.observer.disconnect();
    this.canvas.remove();
  }

  // Redraw if the data, the markers or the window moved by at least a pixel.
  draw(rightMs, windowMs) {
    const plotW = this.width - PAD.left - PAD.right;
    const step = windowMs / Math.max(1, plotW);
    const key = this.series.version + "|" + this.markers.length + "|" + Math.floor(rightMs / step) + "|" + windowMs + "|" + this.width + "x" + this.height;
    if (key === this.drawnKey) return false;
    this.drawnKey = key;
    this.render(rightMs - windowMs, rightMs);
    return true;
  }

  render(left, right) {
    const { ctx, width, height, series: s } = this;
    const x0 = PAD.left, x1 = width - PAD.right, y0 = PAD.top, y1 = height - PAD.bottom;
    const plotW = x1 - x0;
    const span = right - left;
    const { fg, grid, line, mark } = this.colors;
    ctx.clearRect(0, 0, width, height);

    // Visible readings (plus one on each side so lines reach the edges).
    const i0 = Math.max(s.start, s.lowerBound(left) - 1);
    const i1 = Math.min(s.end, s.lowerBound(right) + 1);
    let lo = Infinity, hi = -Infinity;
    for (let i = i0; i < i1; i++) {
      const v = s.v[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (lo === Infinity) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9) { const c = lo; lo = c - (Math.abs(c) * 0.05 || 1); hi = c + (Math.abs(c) * 0.05 || 1); }
    const padY = (hi - lo) * 0.08;
    lo -= padY; hi += padY;
    const X = (t) => x0 + ((t - left) / span) * plotW;
    const Y = (v) => y1 - ((v - lo) / (hi - lo)) * (y1 - y0);

    // Grid and axes.
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 1;
    ctx.strokeStyle = grid;
    ctx.fillStyle = fg;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of niceTicks(lo, hi, Math.max(2, Math.floor((y1 - y0) / 30)))) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x1, y); ctx.stroke();
      ctx.fillText(formatValue(v), x0 - 4, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const tStep = timeStep(span, plotW);
    for (let t = Math.ceil(left / tStep) * tStep; t <= right; t += tStep) {
      const x = Math.round(X(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, y0); ctx.lineTo(x, y1); ctx.stroke();
      if (x > x0 + 20 && x < x1 - 20) ctx.fillText(clock(t), x, y1 + 4);
    }

    // Event markers: a dashed vertical line and the event's name.
    let shownMarkers = 0;
    ctx.save();
    ctx.strokeStyle = mark;
    ctx.fillStyle = mark;
    ctx.setLineDash([4, 3]);
    ctx.textAlign = "left";
    for (const m of this.markers) {
      if (m.t < left || m.t > right) continue;
      const x = Math.round(X(m.t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, y0); ctx.lineTo(x, y1); ctx.stroke();
      ctx.fillText(m.label, x + 3, y0 + 1);
      shownMarkers++;
    }
    ctx.restore();

    // The line, clipped to the plot; broken where readings stop for a while.
    ctx.save();
    ctx.beginPath();
    ctx.rect(x0, y0, plotW, y1 - y0);
    ctx.clip();
    ctx.strokeStyle = line;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    const gap = Math.max(2000, span / 20);
    const n = i1 - i0;
    let prevT = -Infinity;
    if (n <= plotW * 2) {
      for (let i = i0; i < i1; i++) {
        const t = s.t[i], x = X(t), y = Y(s.v[i]);
        if (t - prevT > gap) ctx.moveTo(x, y); else ctx.lineTo(x, y);
        prevT = t;
      }
    } else {
      // One column per pixel: first, min, max, last.
      let i = i0;
      while (i < i1) {
        const col = Math.floor(X(s.t[i]));
        const first = i;
        let mn = s.v[i], mx = s.v[i];
        while (i < i1 && Math.floor(X(s.t[i])) === col) {
          const v = s.v[i];
          if (v < mn) mn = v;
          if (v > mx) mx = v;
          i++;
        }
        const t = s.t[first];
        if (t - prevT > gap) ctx.moveTo(col, Y(s.v[first])); else ctx.lineTo(col, Y(s.v[first]));
        ctx.lineTo(col, Y(mn));
        ctx.lineTo(col, Y(mx));
        ctx.lineTo(col, Y(s.v[i - 1]));
        prevT = s.t[i - 1];
      }
    }
    ctx.stroke();
    ctx.restore();

    // What was drawn, for people hovering and for tests.
    this.el.dataset.points = String(Math.max(0, n));
    this.el.dataset.markers = String(shownMarkers);
    this.el.dataset.lastTs = s.length ? String(s.lastTime) : "";
  }
}

// About `count` round-numbered ticks between lo and hi.
export function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

// A time-grid step (ms) giving labels at least ~90 px apart.
function timeStep(span, px) {
  const want = (span / Math.max(1, px)) * 90;
  const steps = [1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000];
  return steps.find((s) => s >= want) || 3600000;
}
