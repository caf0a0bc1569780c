"""Dashboard under load: 20 metrics at 50 Hz (1,000 readings/s) from a real
client through a real local gateway into headless Chromium, every metric
charted. Prints the page's frame rate, draw time per frame, event-loop lag
(how late a 50 ms timer fires: what a click would wait), readings received
per second and the JS heap. Then the history case: the time to draw 30
days of 1-minute buckets (min/max/avg/count, 43,200 per metric) for 10
metrics, from data built in the page (the drawing, not the gateway's query).

    .venv/bin/python tools/bench_dashboard.py [--seconds 20] [--metrics 20] [--hz 50] [--days 30] [--bucket-metrics 10]
"""

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "cpython"), os.path.join(ROOT, "core")]
os.environ["PLEXUS_QUIET"] = "1"

from plexus import Plexus  # noqa: E402
from plexus.cli.demo.gateway import LocalGateway  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

PROBE = """() => {
  const s = window.plexusStats;
  window.benchLag = { max: 0, sum: 0, n: 0 };
  const tick = () => {
    const want = performance.now() + 50;
    setTimeout(() => {
      const late = performance.now() - want;
      const l = window.benchLag;
      l.max = Math.max(l.max, late); l.sum += late; l.n++;
      if (!window.benchStop) tick();
    }, 50);
  };
  tick();
  return { frames: s.frames, draws: s.draws, drawMs: s.drawMs, pointsIn: s.pointsIn, t: performance.now() };
}"""

READ = """(a) => {
  const s = window.plexusStats, l = window.benchLag, secs = (performance.now() - a.t) / 1000;
  window.benchStop = true;
  const draws = s.draws - a.draws;
  return { secs, fps: (s.frames - a.frames) / secs, drawMs: draws ? (s.drawMs - a.drawMs) / draws : 0,
           pointsPerS: (s.pointsIn - a.pointsIn) / secs, lagMeanMs: l.n ? l.sum / l.n : 0, lagMaxMs: l.max,
           heapMB: performance.memory ? performance.memory.usedJSHeapSize / 1048576 : null,
           charts: document.querySelectorAll('.chart canvas').length };
}"""


BUCKETS = """async ([days, metrics]) => {
  const { MetricChart } = await import("/chart.js");
  const n = days * 1440, end = Date.now(), t = new Array(n);
  for (let i = 0; i < n; i++) t[i] = end - (n - i) * 60000;
  const col = (f) => t.map((_, i) => f(i));
  const host = document.createElement("div");
  host.style.width = "900px";
  document.body.append(host);
  const boxes = [], data = [];
  for (let m = 0; m < metrics; m++) {
    const avg = col((i) => 50 + 20 * Math.sin(i / 700 + m) + (i % 13) / 4);
    data.push({ t, avg, min: avg.map((v) => v - 3), max: avg.map((v) => v + 3), count: t.map(() => 60), bucketMs: 60000 });
    const el = document.createElement("div");
    host.append(el);
    boxes.push(el);
  }
  const t0 = performance.now();
  const charts = boxes.map((el, m) => {
    const c = new MetricChart(el, "bench.m" + m + "_c", {});
    c.setBuckets(data[m], t[0], end);
    return c;
  });
  await new Promise((resolve) => {
    const check = () => (boxes.every((el) => Number(el.dataset.points) === n) ? resolve() : setTimeout(check, 0));
    check();
  });
  const first = performance.now() - t0;
  // A redraw of the same data (what a resize or a new marker costs).
  const t1 = performance.now();
  for (const c of charts) c.show(t[0], end);
  await new Promise((r) => requestAnimationFrame(() => r()));
  const redraw = performance.now() - t1;
  charts.forEach((c) => c.destroy());
  host.remove();
  return { first, redraw, buckets: n };
}"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--metrics", type=int, default=20)
    ap.add_argument("--hz", type=float, default=50.0)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--bucket-metrics", type=int, default=10)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    work = tempfile.mkdtemp(prefix="bench-dashboard-")
    gw = LocalGateway(os.path.join(work, "gw.db"))
    gw.start()
    key = gw.create_key("bench")
    px = Plexus(api_key=key, source_id="bench-dash", gateway_url=gw.url,
                buffer_path=os.path.join(work, "buffer.db"))
    names = ["sensor.%02d" % i for i in range(a.metrics)]
    stop = threading.Event()
    sent = [0]

    def stream():
        t0 = time.monotonic()
        n = 0
        while not stop.is_set():
            t = time.monotonic() - t0
            px.send_batch([(m, 10 * math.sin(t * (1 + i / 5)) + i) for i, m in enumerate(names)])
            sent[0] += len(names)
            n += 1
            stop.wait(max(0.0, t0 + n / a.hz - time.monotonic()))

    th = threading.Thread(target=stream, daemon=True)
    th.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=a.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.set_default_timeout(60000)
            page.goto(gw.url + "/")
            page.fill("#api-key", key)
            page.click("form.login button[type=submit]")
            page.wait_for_selector('tr.source-row[data-source="bench-dash"] a').click()
            page.wait_for_function("(n) => document.querySelectorAll('.latest tbody tr').length >= n", arg=a.metrics)
            for m in names:
                box = page.locator('.latest tr[data-metric="%s"] input[type=checkbox]' % m)
                if not box.is_checked():
                    box.check()
            page.wait_for_function("(n) => document.querySelectorAll('.chart canvas').length === n", arg=a.metrics)
            time.sleep(2.0)  # let the backfill and the first draws settle
            sent0, t0 = sent[0], time.monotonic()
            start = page.evaluate(PROBE)
            time.sleep(a.seconds)
            r = page.evaluate(READ, start)
            sent_rate = (sent[0] - sent0) / (time.monotonic() - t0)
            stop.set()  # the history case is drawn on a quiet page
            page.click("a.back")
            page.wait_for_selector("section.fleet")
            b = page.evaluate(BUCKETS, [a.days, a.bucket_metrics])
            browser.close()
    finally:
        stop.set()
        th.join(5)
        px.close()
        gw.stop()
    print("dashboard, %d metrics at %g Hz, %d charts, %.0f s (Chromium headless, %d CPUs)"
          % (a.metrics, a.hz, r["charts"], r["secs"], os.cpu_count()))
    print("  readings sent        %8.0f /s" % sent_rate)
    print("  readings on the page %8.0f /s" % r["pointsPerS"])
    print("  frames drawn         %8.1f /s" % r["fps"])
    print("  draw time            %8.2f ms per chart redraw (a chart redraws when its window moved a pixel)" % r["drawMs"])
    print("  event-loop lag       %8.1f ms mean, %.1f ms max" % (r["lagMeanMs"], r["lagMaxMs"]))
    if r["heapMB"] is not None:
        print("  JS heap              %8.1f MB" % r["heapMB"])
    print("history, %d days of 1-minute buckets (%d each) for %d metrics"
          % (a.days, b["buckets"], a.bucket_metrics))
    print("  first draw           %8.0f ms (all charts, from data to pixels)" % b["first"])
    print("  redraw               %8.0f ms" % b["redraw"])
    print("RESULT " + json.dumps({"readings_on_page_per_s": round(r["pointsPerS"]), "fps": round(r["fps"], 1),
                                  "draw_ms": round(r["drawMs"], 2), "lag_max_ms": round(r["lagMaxMs"], 1),
                                  "buckets_first_draw_ms": round(b["first"]), "buckets_redraw_ms": round(b["redraw"])}))


if __name__ == "__main__":
    main()
