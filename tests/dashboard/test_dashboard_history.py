"""The dashboard's time ranges, history, zoom, CSV, offline devices, fleet
sparklines and login in a real browser against a real gateway, fed by the
real client (history is sent with the readings' own past timestamps)."""

import csv
import io
import json
import os
import time
import urllib.parse
import urllib.request

import pytest

from plexus import Plexus
from support.waiting import wait_for

pytest.importorskip("support.gateway")

from support.gateway import Gateway  # noqa: E402

MIN = 60000
HOUR = 3600000


@pytest.fixture
def gw(tmp_path):
    g = Gateway(tmp_path / "gateway", rate_limits=False)
    g.start()
    yield g
    g.stop()


def seed(gw, tmp_path, source_id, readings, events=()):
    """Send [(metric, value, ts_ms)] and [(name, value, ts_ms)] with a real
    client, wait for the gateway's acknowledgement, and disconnect."""
    px = Plexus(api_key=gw.key, source_id=source_id, gateway_url=gw.url,
                buffer_path=str(tmp_path / ("buffer-%s.db" % source_id)))
    try:
        for i in range(0, len(readings), 500):
            px.send_batch(readings[i:i + 500])
        for name, value, ts in events:
            px.event(name, value, timestamp=ts)
        assert px.flush_buffer(120), "the gateway did not acknowledge the seeded readings"
    finally:
        px.close()


def now_ms():
    return int(time.time() * 1000)


def login(page, gw):
    page.goto(gw.url + "/")
    page.fill("#api-key", gw.key)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("section.fleet")


def open_device(page, gw, source_id, query=""):
    page.goto(gw.url + "/#/source/" + source_id + ("?" + query if query else ""))
    page.wait_for_selector('section.device[data-source="%s"]' % source_id)


def chart(metric):
    return '.chart[data-metric="%s"] .chart-body' % metric


def wait_drawn(page, metric, cond="Number(d.points) > 0"):
    page.wait_for_function("() => { const e = document.querySelector('%s'); if (!e) return false; "
                           "const d = e.dataset; return %s; }" % (chart(metric), cond))
    return page.evaluate("() => ({...document.querySelector('%s').dataset})" % chart(metric))


def api_get(gw, path):
    req = urllib.request.Request(gw.url + path, headers={"x-api-key": gw.key})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def shot(page, artifacts, name):
    path = os.path.join(artifacts, name)
    page.screenshot(path=path, full_page=True)
    assert os.path.getsize(path) > 10000
    return path


def test_a_10_s_sensor_draws_visible_points_in_the_5_minute_window(page, gw, tmp_path, artifacts):
    t = now_ms()
    # Every 10 s for the last 4.5 minutes, with a 60 s hole and one lone reading in it.
    stamps = [t - s * 1000 for s in range(270, -1, -10) if not 150 < s < 210] + [t - 180000]
    seed(gw, tmp_path, "slow-1", [("coolant.temp_c", 20 + (ts % 7000) / 1000, ts) for ts in sorted(stamps)])
    login(page, gw)
    open_device(page, gw, "slow-1")
    d = wait_drawn(page, "coolant.temp_c", "Number(d.points) >= 20")
    assert page.get_attribute("section.device", "data-range") == "live=5m"
    assert d["mode"] == "raw"
    assert len(stamps) - 3 <= int(d["points"]) <= len(stamps)  # the oldest may scroll out on a slow machine
    assert int(d["dots"]) == int(d["points"])  # each reading is a visible dot
    assert int(d["gaps"]) == 2            # the hole, on both sides of the lone reading
    # The unit declared by the name shows on the chart and with the latest value.
    assert "°C" in page.inner_text('.chart[data-metric="coolant.temp_c"] .chart-title')
    page.wait_for_selector('.latest tr[data-metric="coolant.temp_c"] td.value:has-text("°C")')
    shot(page, artifacts, "dashboard-sparse.png")


def test_a_lone_reading_among_dense_ones_is_a_dot(page, gw, tmp_path, artifacts):
    t = now_ms()
    # 4 Hz, then silence with one reading in the middle of it, then 4 Hz again.
    stamps = [t - 240000 + k * 250 for k in range(480)] + [t - 90000] + [t - 40000 + k * 250 for k in range(160)]
    seed(gw, tmp_path, "dense-1", [("psu.out_v", 12 + (k % 20) / 100, ts) for k, ts in enumerate(stamps)])
    login(page, gw)
    open_device(page, gw, "dense-1")
    d = wait_drawn(page, "psu.out_v", "Number(d.points) > 500")
    assert d["mode"] == "raw"
    assert int(d["gaps"]) == 2
    assert int(d["dots"]) == 1  # too many readings for a dot each: only the lone one is drawn as a dot
    shot(page, artifacts, "dashboard-lone.png")


def seed_day(gw, tmp_path, source_id="hist-1"):
    """24 h of one reading a minute for three metrics, and a few events."""
    t = now_ms() // MIN * MIN
    readings = []
    for k in range(24 * 60):
        ts = t - (24 * 60 - k) * MIN + 7000
        readings += [("motor.rpm", 1500 + (k % 90) * 10, ts), ("motor.current_a", 2 + (k % 30) / 10, ts),
                     ("coolant.temp_c", 60 + (k % 240) / 10, ts)]
        readings += [("motor.rpm", 1350 + (k % 90) * 10, ts + 20000), ("motor.rpm", 1650 + (k % 90) * 10, ts + 40000)]
    events = [("state_change", {"to": "RUNNING" if i % 2 else "IDLE"}, t - i * 2 * HOUR) for i in range(1, 12)]
    seed(gw, tmp_path, source_id, readings, events)
    return t


def test_a_24_h_history_draws_bands_and_zoom_changes_the_url_and_the_data(page, gw, tmp_path, artifacts):
    seed_day(gw, tmp_path)
    login(page, gw)
    queries = []
    page.on("request", lambda r: "/metrics/query" in r.url and queries.append(r.url))
    open_device(page, gw, "hist-1", "last=24h")
    d = wait_drawn(page, "motor.rpm", "d.mode === 'buckets' && Number(d.points) > 1000")
    assert page.get_attribute('.chart[data-metric="motor.rpm"]', "data-interval") == "1m"
    assert int(d["bands"]) == 1
    # Charts come grouped by subsystem.
    groups = page.eval_on_selector_all(".chart-group", "els => els.map(e => [e.dataset.group, "
                                       "[...e.querySelectorAll('.chart')].map(c => c.dataset.metric)])")
    assert groups == [["coolant", ["coolant.temp_c"]], ["motor", ["motor.current_a", "motor.rpm"]]]
    # Events: a list, newest first, and thin markers on the charts.
    page.wait_for_function("document.querySelectorAll('.event-item').length === 11")
    times = page.eval_on_selector_all(".event-item", "els => els.map(e => Number(e.dataset.t))")
    assert times == sorted(times, reverse=True)
    wait_drawn(page, "motor.rpm", "Number(d.markers) === 11")
    shot(page, artifacts, "dashboard-history.png")
    page.fill("input.event-filter", "no_such_event")
    page.wait_for_selector(".no-events")
    wait_drawn(page, "motor.rpm", "Number(d.markers) === 0")
    page.fill("input.event-filter", "STATE")
    page.wait_for_function("document.querySelectorAll('.event-item').length === 11")

    # Drag across the middle third of the chart: the URL holds the new window.
    box = page.locator(chart("motor.rpm") + " .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
    page.mouse.up()
    page.wait_for_function("location.hash.includes('from=')")
    q = urllib.parse.parse_qs(page.evaluate("location.hash").split("?", 1)[1])
    span = (time_ms(q["to"][0]) - time_ms(q["from"][0]))
    assert 3 * HOUR < span < 6 * HOUR
    d = wait_drawn(page, "motor.rpm", "Number(d.to) - Number(d.from) < 6 * 3600000")
    assert d["mode"] == "buckets"
    start = urllib.parse.quote(q["from"][0])
    wait_for(lambda: any("start=" + start in u for u in queries), timeout=30, what="a query for the zoomed window")

    # Zoom in under 20 minutes: raw readings instead of buckets.
    page.mouse.move(box["x"] + box["width"] * 0.50, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.53, y, steps=5)
    page.mouse.up()
    d = wait_drawn(page, "motor.rpm", "d.mode === 'raw'")
    assert int(d["points"]) > 5
    assert any("interval=raw" in u and "start=" in u for u in queries)
    shot(page, artifacts, "dashboard-zoomed.png")

    # Back out one step at a time.
    page.click("button.zoom-back")
    wait_drawn(page, "motor.rpm", "d.mode === 'buckets' && Number(d.to) - Number(d.from) > 3 * 3600000")
    page.click("button.zoom-back")
    page.wait_for_function("location.hash.endsWith('last=24h')")
    wait_drawn(page, "motor.rpm", "Number(d.to) - Number(d.from) > 23 * 3600000")


def time_ms(iso):
    from datetime import datetime
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def iso(ms):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.mark.parametrize("span_ms, interval", [(10 * MIN, "raw"), (6 * HOUR, "1m")])
def test_csv_export_matches_the_data_api(page, gw, tmp_path, span_ms, interval):
    t = seed_day(gw, tmp_path)
    frm, to = t - 3 * HOUR, t - 3 * HOUR + span_ms
    login(page, gw)
    open_device(page, gw, "hist-1", "from=%s&to=%s" % (iso(frm), iso(to)))
    wait_drawn(page, "motor.rpm", "d.mode === '%s'" % ("raw" if interval == "raw" else "buckets"))
    with page.expect_download() as dl:
        page.click('.chart[data-metric="motor.rpm"] button.csv')
    text = open(dl.value.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    api = api_get(gw, "/v1/sources/hist-1/metrics/query?metrics=motor.rpm&interval=%s&start=%s&end=%s"
                  % (interval, urllib.parse.quote(iso(frm)), urllib.parse.quote(iso(to))))
    col = api["series"]["motor.rpm"]
    assert [int(r["timestamp_ms"]) for r in rows] == col["timestamp_ms"]
    fields = ["value"] if interval == "raw" else ["min", "max", "avg", "count"]
    for f in fields:
        assert [float(r[f]) for r in rows] == pytest.approx([float(v) for v in col[f]]), f
    assert len(rows) > 5


def test_an_offline_device_opens_on_its_last_data(page, gw, tmp_path, artifacts):
    t = now_ms()
    # A board replaying its flash log: readings from 3 h to 2 h ago, then gone.
    readings = [("pump.pressure_kpa", 100 + k % 13, t - 3 * HOUR + k * 10000) for k in range(360)]
    seed(gw, tmp_path, "sleepy-1", readings)
    login(page, gw)
    page.wait_for_selector('tr.source-row[data-source="sleepy-1"][data-online="false"]')
    page.click('tr.source-row[data-source="sleepy-1"] a')
    page.wait_for_function("location.hash.includes('from=')")
    d = wait_drawn(page, "pump.pressure_kpa", "Number(d.points) > 0")
    newest = readings[-1][2]
    assert int(d["from"]) < newest < int(d["to"]) < t - HOUR
    assert page.is_visible(".offline-note")
    assert "newest reading" in page.inner_text(".offline-note")
    assert page.get_attribute("section.device", "data-online") == "false"
    page.wait_for_selector('.latest tr[data-metric="pump.pressure_kpa"] td.age:has-text("h ago")')
    shot(page, artifacts, "dashboard-offline.png")


def test_the_fleet_page_shows_sparklines_counts_sort_and_filter(page, gw, tmp_path, artifacts):
    t = now_ms()
    for n, sid in enumerate(("line-a", "line-b", "line-c")):
        seed(gw, tmp_path, sid, [("coolant.temp_c", 40 + n * 5 + (k % 10), t - 55 * MIN + k * MIN) for k in range(55)]
             + [("cpu.load", 0.5, t)])
    live = Plexus(api_key=gw.key, source_id="line-live", gateway_url=gw.url,
                  buffer_path=str(tmp_path / "buffer-live.db"))
    try:
        live.send_batch([("coolant.temp_c", 70 + k % 3, t - 30 * MIN + k * MIN) for k in range(30)])
        assert live.flush_buffer(60)
        login(page, gw)
        page.wait_for_selector(".count-online[data-n='1']")
        assert page.get_attribute(".count-offline", "data-n") == "3"
        assert page.get_attribute(".count-never", "data-n") == "0"
        assert page.input_value("select.spark-metric") == "coolant.temp_c"  # the metric most sources have
        page.wait_for_function("[...document.querySelectorAll('.spark-cell')].filter(c => Number(c.dataset.points) > 20).length === 4")
        inked = page.evaluate("""() => [...document.querySelectorAll('canvas.sparkline')].map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })""")
        assert len(inked) == 4 and min(inked) > 50
        rows = lambda: page.eval_on_selector_all("tr.source-row", "els => els.map(e => e.dataset.source)")  # noqa: E731
        assert rows()[0] == "line-live"  # online first
        page.select_option("select.fleet-sort", "value")
        assert rows()[0] == "line-live"  # 70-72 is the highest latest value
        page.select_option("select.fleet-sort", "source")
        assert rows() == ["line-a", "line-b", "line-c", "line-live"]
        page.fill("input.fleet-filter", "line-b")
        page.wait_for_function("document.querySelectorAll('tr.source-row').length === 1")
        assert "q=line-b" in page.evaluate("location.hash")
        page.fill("input.fleet-filter", "")
        page.select_option("select.fleet-show", "offline")
        page.wait_for_function("document.querySelectorAll('tr.source-row').length === 3")
        page.select_option("select.fleet-show", "all")
        shot(page, artifacts, "dashboard-fleet.png")
    finally:
        live.close()


def test_the_login_survives_a_reload_and_a_new_tab_and_logout_clears_it(page, gw):
    login(page, gw)
    page.reload()
    page.wait_for_selector("section.fleet")
    assert gw.key not in page.url
    assert gw.key not in page.evaluate("document.cookie")  # the cookie only marks the session
    other = page.context.new_page()
    other.goto(gw.url + "/#/source/any")
    other.wait_for_selector('section.device[data-source="any"]')
    other.click("#logout")
    other.wait_for_selector("form.login")
    page.reload()
    page.wait_for_selector("form.login")
    assert page.evaluate("Object.values(localStorage).some(v => v.startsWith('plx_'))") is False
    # A new browser session (a new context has no session cookie) asks again.
    login(page, gw)
    state = page.context.storage_state()
    fresh = page.context.browser.new_context(storage_state={"cookies": [], "origins": state["origins"]})
    try:
        p2 = fresh.new_page()
        p2.goto(gw.url + "/")
        p2.wait_for_selector("form.login")
    finally:
        fresh.close()


def test_units_subsystems_and_resolutions_come_from_names_and_spans(page, gw):
    page.goto(gw.url + "/")
    got = page.evaluate("""async () => {
        const u = await import("/units.js"), r = await import("/timerange.js");
        const names = ["coolant.temp_c", "battery_v", "motor.rpm", "supply.current_ma", "tank.level_pct",
                       "sensor.01", "status", "cpu.temp"];
        return { units: names.map(u.unitOf), groups: names.map(u.subsystemOf),
                 intervals: [5, 20, 21, 60, 1440, 1600, 10080, 43200, 60000].map(m => r.intervalFor(m * 60000)),
                 ranges: ["live=15m", "last=7d", "from=2026-11-30T18:00:00Z&to=2026-11-30T19:00:00Z", "live=3m", "x=1"]
                   .map(q => { const p = r.parseRange(new URLSearchParams(q), 1e12); return p && [p.live, p.spanMs, p.key]; }) };
    }""")
    assert got["units"] == ["°C", "V", "rpm", "mA", "%", "", "", ""]
    assert got["groups"] == ["coolant", "", "motor", "supply", "tank", "sensor", "", "cpu"]
    assert got["intervals"] == ["raw", "raw", "1m", "1m", "1m", "10m", "10m", "1h", "1d"]
    assert got["ranges"] == [[True, 15 * MIN, "live=15m"], [False, 7 * 24 * HOUR, "last=7d"],
                             [False, HOUR, "from=2026-11-30T18:00:00.000Z&to=2026-11-30T19:00:00.000Z"], None, None]
