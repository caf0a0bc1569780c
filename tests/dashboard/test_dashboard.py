"""The dashboard in a real browser against a real gateway: log in with a
key, see a device appear, watch a chart follow a real client, see an event
marker, press command buttons and see their results."""

import os

import pytest

from devices import CommandDevice, Streamer

pytest.importorskip("support.gateway")

MANIFEST = [
    {"name": "set_speed", "title": "Set speed", "danger": "normal", "idempotent": False,
     "expires_in_s": 30.0, "concurrency": "reject",
     "params": {"rpm": {"type": "integer", "minimum": 0, "maximum": 3000, "unit": "rpm", "required": True}}},
    {"name": "open_valve", "title": "Open valve", "danger": "dangerous", "idempotent": False,
     "expires_in_s": 30.0, "concurrency": "reject",
     "params": {"valve": {"type": "integer", "minimum": 1, "maximum": 4, "required": True}}},
]


def handler(command, params):
    if command == "set_speed":
        return {"rpm_set": params["rpm"]}
    if command == "open_valve":
        return {"opened": params["valve"]}
    return {"echo": params}


def login(page, gw, key=None):
    page.goto(gw.url + "/")
    page.fill("#api-key", key or gw.key)
    page.click("form.login button[type=submit]")


def chart_attr(page, metric, attr):
    return page.get_attribute('.chart[data-metric="%s"] .chart-body' % metric, attr)


def test_login_rejects_a_bad_key_and_keeps_the_key_out_of_the_url(page, gateway):
    login(page, gateway, "plx_notarealkey0000")
    page.wait_for_selector("form.login .error:not([hidden])")
    assert "rejected" in page.inner_text("form.login .error")
    page.fill("#api-key", gateway.create_key(scopes="write"))
    page.click("form.login button[type=submit]")
    page.wait_for_function("document.querySelector('form.login .error').textContent.includes('read scope')")
    page.fill("#api-key", gateway.key)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("section.fleet")
    page.wait_for_selector(".empty:not([hidden])")  # nothing has sent yet
    assert gateway.key not in page.url
    page.click("#logout")
    page.wait_for_selector("form.login")


def test_device_chart_event_marker_and_commands(page, gateway, tmp_path, artifacts):
    login(page, gateway)
    page.wait_for_selector("section.fleet")
    streamer = Streamer(gateway, "bench-1", tmp_path).start()
    device = CommandDevice(gateway, "bench-cmd", MANIFEST, handler).start()
    try:
        # Both devices appear online in the fleet list.
        page.wait_for_selector('tr.source-row[data-source="bench-1"][data-online="true"]')
        page.wait_for_selector('tr.source-row[data-source="bench-cmd"][data-online="true"]')

        # The device page charts the live stream: the newest drawn reading keeps moving.
        page.click('tr.source-row[data-source="bench-1"] a')
        page.wait_for_selector('section.device[data-source="bench-1"]')
        page.wait_for_selector('.chart[data-metric="temp.c"] .chart-body[data-points]')
        page.wait_for_function(
            'Number(document.querySelector(\'.chart[data-metric="temp.c"] .chart-body\')?.dataset.points) > 5')
        first = int(chart_attr(page, "temp.c", "data-last-ts"))
        page.wait_for_function(
            '(t) => Number(document.querySelector(\'.chart[data-metric="temp.c"] .chart-body\')?.dataset.lastTs) > t', arg=first)
        assert page.get_attribute(".badge", "data-state") == "live"
        page.wait_for_selector('.latest tr[data-metric="motor.rpm"] td.value:not(:empty)')

        # An event shows in the list and as a marker on the charts' time axis.
        streamer.px.event("state_change", {"from": "IDLE", "to": "RUNNING"})
        page.wait_for_selector('.event-item[data-metric="state_change"]')
        assert "RUNNING" in page.inner_text('.event-item[data-metric="state_change"]')
        page.wait_for_function(
            'Number(document.querySelector(\'.chart[data-metric="temp.c"] .chart-body\')?.dataset.markers) >= 1')

        # Commands: a normal one runs at once; a dangerous one asks first.
        page.click("a.back")
        page.click('tr.source-row[data-source="bench-cmd"] a')
        form = 'form.command[data-command="set_speed"]'
        page.wait_for_selector(form)
        page.fill(form + ' input[name="rpm"]', "5000")
        page.click(form + " button.command-button")
        page.wait_for_selector(form + ' .command-status[data-state="invalid"]')  # over the maximum
        assert not [f for f in device.received if f.get("type") == "command_run"]
        page.fill(form + ' input[name="rpm"]', "1200")
        page.click(form + " button.command-button")
        page.wait_for_selector(form + ' .command-status[data-state="succeeded"]')
        assert "1200" in page.inner_text(form + " .command-status")
        runs = [f for f in device.received if f.get("type") == "command_run"]
        assert [(r["command"], r["params"]) for r in runs] == [("set_speed", {"rpm": 1200})]

        valve = 'form.command[data-command="open_valve"]'
        page.fill(valve + ' input[name="valve"]', "3")
        page.click(valve + " button.command-button")
        page.wait_for_selector(valve + " .confirm:not([hidden])")
        page.click(valve + " .confirm button.danger-dangerous")
        page.wait_for_selector(valve + ' .command-status[data-state="succeeded"]')
        assert "3" in page.inner_text(valve + " .command-status")

        shot = os.path.join(artifacts, "dashboard-commands.png")
        page.screenshot(path=shot, full_page=True)
        assert os.path.getsize(shot) > 10000
        page.click("a.back")
        page.click('tr.source-row[data-source="bench-1"] a')
        page.wait_for_function(
            'Number(document.querySelector(\'.chart[data-metric="temp.c"] .chart-body\')?.dataset.markers) >= 1')
        page.screenshot(path=os.path.join(artifacts, "dashboard-device.png"), full_page=True)
    finally:
        device.stop()
        streamer.stop()


def test_legacy_command_button(page, gateway):
    legacy = [{"name": "set_led", "description": "toggle the LED",
               "params": [{"name": "on", "type": "bool", "required": True}]}]
    device = CommandDevice(gateway, "bench-legacy", legacy, handler, protocol=None).start()
    try:
        login(page, gateway)
        page.wait_for_selector('tr.source-row[data-source="bench-legacy"] a').click()
        form = 'form.command[data-command="set_led"]'
        page.wait_for_selector(form)
        page.check(form + ' input[name="on"]')
        page.click(form + " button.command-button")
        page.wait_for_selector(form + ' .command-status[data-state="succeeded"]')
        assert "true" in page.inner_text(form + " .command-status")
        sent = [f for f in device.received if f.get("type") == "typed_command"]
        assert [(f["command"], f["params"]) for f in sent] == [("set_led", {"on": True})]
    finally:
        device.stop()


def test_twenty_metrics_at_50_hz_keep_the_page_responsive(page, gateway, tmp_path):
    metrics = ["sensor.%02d" % i for i in range(20)]
    streamer = Streamer(gateway, "bench-fast", tmp_path, metrics=metrics, period_s=0.02).start()
    try:
        login(page, gateway)
        page.wait_for_selector('tr.source-row[data-source="bench-fast"] a').click()
        page.wait_for_function("document.querySelectorAll('.latest tbody tr').length === 20")
        # Chart every metric.
        for m in metrics:
            box = page.locator('.latest tr[data-metric="%s"] input[type=checkbox]' % m)
            if not box.is_checked():
                box.check()
        page.wait_for_function("document.querySelectorAll('.chart canvas').length === 20")
        # Under a full stream the page keeps drawing and keeps answering input:
        # each chart's newest reading advances, and a window change is applied.
        stamps = page.evaluate("() => [...document.querySelectorAll('.chart .chart-body')].map(c => Number(c.dataset.lastTs || 0))")
        page.wait_for_function(
            "(old) => [...document.querySelectorAll('.chart .chart-body')].every((c, i) => Number(c.dataset.lastTs) > old[i])",
            arg=stamps)
        frames = page.evaluate("() => window.plexusStats.frames")
        page.click('button.range[data-range="live=15m"]')
        page.wait_for_function("(f) => window.plexusStats.frames > f + 30", arg=frames)
        page.wait_for_function("document.querySelector('section.device').dataset.range === 'live=15m'")
        assert "live=15m" in page.url
        stats = page.evaluate("() => window.plexusStats")
        assert stats["pointsIn"] > 1000 and stats["draws"] > 0
    finally:
        streamer.stop()


def test_video_tile_shows_a_streaming_camera(page, gateway, tmp_path):
    import threading

    import cv2
    import numpy as np

    streamer = Streamer(gateway, "bench-cam", tmp_path, metrics=("fps",), period_s=0.5).start()
    stop = threading.Event()

    def camera():
        n = 0
        while not stop.is_set():
            img = np.zeros((120, 160, 3), np.uint8)
            cv2.putText(img, str(n), (10, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
            streamer.px.send_video_frame(cv2.imencode(".jpg", img)[1].tobytes(), camera_id="front")
            n += 1
            stop.wait(0.2)

    cam = threading.Thread(target=camera, daemon=True)
    cam.start()
    try:
        login(page, gateway)
        page.wait_for_selector('tr.source-row[data-source="bench-cam"] a').click()
        page.wait_for_selector('.video-tile[data-camera="front"]')
        first = int(page.get_attribute('.video-tile[data-camera="front"]', "data-frames"))
        page.wait_for_function(
            "(n) => Number(document.querySelector('.video-tile[data-camera=\"front\"]').dataset.frames) > n + 2",
            arg=first)
        assert page.get_attribute('.video-tile[data-camera="front"] img', "src").startswith("data:image/jpeg;base64,")
        size = page.evaluate("() => { const i = document.querySelector('.video-tile img'); "
                             "return [i.naturalWidth, i.naturalHeight]; }")
        assert size == [160, 120]
    finally:
        stop.set()
        cam.join(5)
        streamer.stop()
