"""Every CPython example runs against a real local gateway, on virtual or
simulated inputs where the hardware is absent, and what it sent is read
back from the gateway's database."""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error

import pytest

from exkit import EXAMPLES, api, by_metric, env_for, plexus_cli, run_example, wait_for

pytest.importorskip("support.gateway")


def test_basic(gateway, tmp_path):
    out = run_example("basic.py", ["--count", "3", "--interval", "0.05", "--source-id", "ex-basic"],
                      gateway, tmp_path)
    assert "all stored by the gateway" in out
    pts = gateway.points("ex-basic")
    assert len(by_metric(pts, "coolant.temp_c")) == 3
    assert all(40 <= p["value"] <= 80 for p in by_metric(pts, "coolant.temp_c"))
    rpm = by_metric(pts, "motor.rpm")
    assert [p["value"] for p in rpm] == [1450, 1451, 1452] and all(p["tags"] == {"motor": "m1"} for p in rpm)
    assert len(by_metric(pts, "pressure.in_kpa")) == len(by_metric(pts, "pressure.out_kpa")) == 3
    states = [p["value"] for p in by_metric(pts, "state_change")]
    assert states == [{"from": "OFF", "to": "RUNNING"}, {"from": "RUNNING", "to": "OFF"}]
    assert all(p["class"] == "event" for p in by_metric(pts, "state_change"))


def test_system_metrics(gateway, tmp_path):
    pytest.importorskip("psutil")
    out = run_example("system_metrics.py", ["--count", "2", "--interval", "0.2", "--source-id", "ex-sys"],
                      gateway, tmp_path)
    assert "2 samples from ex-sys; all stored" in out
    pts = gateway.points("ex-sys")
    for metric in ("disk.used_pct", "cpu.used_pct", "mem.used_pct", "cpu.load_1m"):
        values = [p["value"] for p in by_metric(pts, metric)]
        assert len(values) == 2, metric
        assert all(0 <= v for v in values), metric
    assert all(0 <= p["value"] <= 100 for p in by_metric(pts, "mem.used_pct") + by_metric(pts, "disk.used_pct"))
    assert all("host" in p["tags"] for p in pts)


def test_can_virtual_bus(gateway, tmp_path):
    pytest.importorskip("can")
    t0 = time.time() * 1000
    out = run_example("can.py", ["--simulate", "--count", "60", "--source-id", "ex-can"], gateway, tmp_path)
    assert "decoded 60 frames" in out and "all stored" in out
    pts = gateway.points("ex-can")
    engine, battery = by_metric(pts, "engine.rpm"), by_metric(pts, "battery.voltage")
    assert len(engine) + len(battery) == 60 and engine and battery
    assert len(by_metric(pts, "engine.coolant_c")) == len(engine)
    assert all(p["value"] == 85 for p in by_metric(pts, "engine.coolant_c"))  # byte 125 - 40 offset
    assert all(800 <= p["value"] < 3800 for p in engine)
    assert all(12.2 <= p["value"] <= 12.6 for p in battery)
    assert all(-1.5 <= p["value"] <= 1.5 for p in by_metric(pts, "battery.current_a"))
    # the frame's own receive time, not the time of delivery
    assert all(t0 - 5000 <= p["timestamp"] <= time.time() * 1000 for p in pts)


def test_i2c_bme280_with_the_stand_in_bus(gateway, tmp_path):
    out = run_example("i2c_bme280.py", ["--fake", "--count", "3", "--interval", "0.01", "--source-id", "ex-bme"],
                      gateway, tmp_path)
    assert "3 readings" in out
    pts = gateway.points("ex-bme")
    # the datasheet's worked example: 25.08 deg C and 100653 Pa
    assert [p["value"] for p in by_metric(pts, "env.temp_c")] == [25.08] * 3
    assert [p["value"] for p in by_metric(pts, "env.pressure_hpa")] == [1006.53] * 3
    assert [p["value"] for p in by_metric(pts, "env.humidity_pct")] == [51.08] * 3
    assert all(p["tags"] == {"sensor": "bme280"} for p in pts)


def _write_tlog(path, t0):
    """A short recorded flight: heartbeats (disarmed, then armed), battery,
    position and attitude, each stamped with its recording time."""
    from pymavlink.dialects.v20 import ardupilotmega as m
    mav = m.MAVLink(None, srcSystem=1, srcComponent=1)
    armed = m.MAV_MODE_FLAG_SAFETY_ARMED | m.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
    msgs = []
    for i in range(10):
        base = armed if i >= 5 else m.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
        msgs.append(m.MAVLink_heartbeat_message(m.MAV_TYPE_QUADROTOR, m.MAV_AUTOPILOT_ARDUPILOTMEGA, base, 0, 4, 3))
        msgs.append(m.MAVLink_sys_status_message(0, 0, 0, 500, 12400 - i * 10, -1, 80 - i, 0, 0, 0, 0, 0, 0))
        msgs.append(m.MAVLink_global_position_int_message(i * 100, 473977420 + i, 85455940, 500000, 10000 + i * 100,
                                                          0, 0, 0, 9000))
        msgs.append(m.MAVLink_attitude_message(i * 100, 0.1, -0.05, 1.5708, 0, 0, 0))
    with open(path, "wb") as f:
        for k, msg in enumerate(msgs):
            f.write(struct.pack(">Q", (t0 + k * 25) * 1000) + msg.pack(mav))  # tlog: µs, then the packet
    return len(msgs)


def test_mavlink_replays_a_tlog_at_its_recorded_times(gateway, tmp_path):
    pytest.importorskip("pymavlink")
    t0 = 1760000000000
    _write_tlog(str(tmp_path / "flight.tlog"), t0)
    out = run_example("mavlink.py", ["--connect", str(tmp_path / "flight.tlog"), "--source-id", "ex-mav"],
                      gateway, tmp_path)
    assert "all stored" in out
    pts = gateway.points("ex-mav")
    lat = by_metric(pts, "gps.lat")
    assert [p["value"] for p in lat] == [(473977420 + i) / 1e7 for i in range(10)]
    assert [p["value"] for p in by_metric(pts, "gps.alt_rel_m")] == [(10000 + i * 100) / 1000.0 for i in range(10)]
    assert [p["value"] for p in by_metric(pts, "battery.remaining_pct")] == [80 - i for i in range(10)]
    assert by_metric(pts, "att.yaw_deg")[0]["value"] == 90.0
    # recorded times: message k of the log was written at t0 + 25 k ms
    assert [p["timestamp"] for p in lat] == [t0 + (4 * i + 2) * 25 for i in range(10)]
    modes = by_metric(pts, "flight.mode")
    assert [p["value"]["armed"] for p in modes] == [False, True]  # events on a change only
    assert modes[1]["timestamp"] == t0 + 20 * 25


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def broker(tmp_path):
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if exe is None:
        pytest.skip("no MQTT broker here: apt-get install mosquitto")
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("listener %d 127.0.0.1\nallow_anonymous true\n" % port)
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return proc.poll() is not None and pytest.fail("mosquitto exited")
    wait_for(up, 30, "the MQTT broker")
    yield port
    proc.terminate()
    proc.wait(30)


def test_mqtt_bridge(gateway, tmp_path, broker):
    mqtt = pytest.importorskip("paho.mqtt.client")
    bridge = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "mqtt.py"), "--port", str(broker),
                               "--count", "4", "--source-id", "ex-mqtt"], env=env_for(gateway, tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = bridge.stdout.readline()  # blocks until the bridge has subscribed (or exits)
        assert line.startswith("subscribed to sensors/#"), line
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.connect("127.0.0.1", broker)
        pub.loop_start()
        for topic, payload in (("sensors/boiler/temp_c", "71.5"), ("sensors/boiler", '{"temp_c": 70.0, "state": "heating"}'),
                               ("sensors/door", "open"), ("sensors/line/count", "42")):
            pub.publish(topic, payload, qos=1).wait_for_publish(30)
        pub.disconnect()
        pub.loop_stop()
        out = bridge.communicate(timeout=120)[0]
    finally:
        if bridge.poll() is None:
            bridge.kill()
    assert bridge.returncode == 0, out
    assert "bridged 4 messages (0 skipped)" in out and "all stored" in out
    pts = gateway.points("ex-mqtt")
    assert sorted(p["value"] for p in by_metric(pts, "sensors.boiler.temp_c")) == [70.0, 71.5]
    assert [(p["class"], p["value"]) for p in by_metric(pts, "sensors.boiler.state")] == [("event", "heating")]
    assert [(p["class"], p["value"]) for p in by_metric(pts, "sensors.door")] == [("event", "open")]
    assert [p["value"] for p in by_metric(pts, "sensors.line.count")] == [42]
    assert by_metric(pts, "sensors.door")[0]["tags"] == {"topic": "sensors/door"}


def test_camera_with_a_synthetic_picture(gateway, tmp_path):
    """No camera is attached here: the example's --synthetic picture stands in
    for cv2.VideoCapture; encoding, sending and the gateway are real."""
    pytest.importorskip("cv2")
    out = run_example("camera.py", ["--synthetic", "--count", "15", "--fps", "30", "--source-id", "ex-cam"],
                      gateway, tmp_path)
    assert "15 frames from camera 'front'" in out and "all stored" in out
    assert len(by_metric(gateway.points("ex-cam"), "camera.brightness")) == 15
    # the gateway saw the camera's frames: the source lists it
    assert "front" in api(gateway, "/v1/sources/ex-cam")["cameras"]


def _declared(gateway, source_id):
    """Names of the commands a connected source declared (none before it connects)."""
    try:
        src = api(gateway, "/v1/sources/" + source_id)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return set()
        raise
    return {c["name"] for c in src.get("commands", [])} if src["online"] else set()


def test_commands_from_the_cli(gateway, tmp_path):
    proc = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "commands.py"), "--source-id", "ex-cmd",
                             "--seconds", "300"], env=env_for(gateway, tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "declared set_fan and open_valve" in proc.stdout.readline()
        wait_for(lambda: _declared(gateway, "ex-cmd") >= {"set_fan", "open_valve"}, 60,
                 "the example's commands at the gateway")

        r = plexus_cli(["command", "ex-cmd", "set_fan", "--param", "speed=60", "--wait", "--json"], gateway, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        run = json.loads(r.stdout)
        assert run["state"] == "succeeded" and run["result"] == {"fan_pct": 60}

        r = plexus_cli(["command", "ex-cmd", "open_valve", "--param", "valve=2", "--param", "seconds=0.2",
                        "--wait", "--json"], gateway, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        run = json.loads(r.stdout)
        assert run["result"] == {"valve": 2, "open_s": 0.2}
        assert [s["state"] for s in run["statuses"]][-1] == "succeeded"

        r = plexus_cli(["command", "ex-cmd", "set_fan", "--param", "speed=150", "--wait", "--json"], gateway, tmp_path)
        assert r.returncode == 1
        run = json.loads(r.stdout)
        assert run["state"] == "failed" and run["error_code"] == "bad_params"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out = proc.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, out
    assert "stopped; fan at 60%" in out
    pts = gateway.points("ex-cmd")
    assert [p["value"] for p in by_metric(pts, "fan.speed_pct")] == [60]
    assert [p["value"]["open"] for p in by_metric(pts, "valve")] == [True, False]
