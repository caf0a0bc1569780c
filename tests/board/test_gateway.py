"""The board client inside the real MicroPython, against a real gateway
process, over the device WebSocket and over HTTP: acks, clock sync, gateway
restarts and kills, an offline start and a refused key. Nothing lost,
nothing duplicated."""

import json
import os
import urllib.request
import queue
import subprocess
import threading
import time

import pytest

from support import mpy
from support.waiting import wait_for

pytest.importorskip("support.gateway")

MP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp")
DEVICE = os.path.join(MP, "device.py")
T0 = 1760000000000


class Device:
    """The MicroPython device program, its output read line by line."""

    def __init__(self, tmp_path, scenario, url, key, source, transport, n, store=None):
        store = store or str(tmp_path / ("store-" + source))
        self.proc = subprocess.Popen(
            [mpy.micropython(), "-X", "heapsize=2M", DEVICE, mpy.CORE, scenario, url, key,
             source, transport, store, str(n)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def expect(self, text, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self._q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError("no %r from the device; output:\n%s" % (text, "\n".join(self.lines)))

    def result(self, timeout=180):
        line = self.expect("RESULT ", timeout)
        self.proc.wait(30)
        assert self.proc.returncode == 0, "\n".join(self.lines)
        return json.loads(line.split("RESULT ", 1)[1])


def run(tmp_path, scenario, gw_url, key, source, transport, n, store=None):
    return Device(tmp_path, scenario, gw_url, key, source, transport, n, store).result()


def seq_values(gw, source):
    return sorted(p["value"] for p in gw.points(source) if p["metric"] == "seq")


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_readings_events_and_batches_arrive_once(gateway, tmp_path, transport):
    src = "mpy-basic-" + transport
    r = run(tmp_path, "basic", gateway.url, gateway.key, src, transport, 700)
    assert r["flushed"] and r["buffer"] == 0 and r["rejected"] == 0
    pts = gateway.points(src)
    seq = [p for p in pts if p["metric"] == "seq"]
    assert sorted(p["value"] for p in seq) == list(range(700))  # nothing lost, no duplicates
    assert all(p["timestamp"] == T0 + p["value"] and p["class"] == "metric" for p in seq)
    events = [p for p in pts if p["metric"] == "state"]
    assert sorted(e["value"]["step"] for e in events) == list(range(10))
    assert all(e["class"] == "event" and e["tags"] == {"line": "b"} for e in events)
    batch = [p for p in pts if p["metric"] == "batch"]
    assert sorted(p["value"] for p in batch) == list(range(20))
    assert all(p["timestamp"] == T0 + 1400 for p in batch)


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_clock_offset_from_the_gateway_corrects_a_slow_board_clock(gateway, tmp_path, transport):
    # WebSocket: server_time_ms in the auth reply; HTTP: the Date header
    r = run(tmp_path, "clock", gateway.url, gateway.key, "mpy-clock", transport, 0)
    assert r["flushed"]
    assert abs(r["offset"] - 3600000) < 5000, r
    now = time.time() * 1000
    synced = [p for p in gateway.points("mpy-clock") if p["metric"] == "synced"]
    assert len(synced) == 5
    for p in synced:
        assert abs(p["timestamp"] - now) < 60000, (p, now)  # gateway time, not the board's


@pytest.mark.parametrize("how", ["restart", "kill"])
@pytest.mark.parametrize("transport", ["ws", "http"])
def test_gateway_restart_or_kill_mid_stream_loses_and_duplicates_nothing(gateway, tmp_path, transport, how):
    src = "mpy-steady-%s-%s" % (transport, how)
    n = 1500
    dev = Device(tmp_path, "steady", gateway.url, gateway.key, src, transport, n)
    dev.expect("RUNNING", 120)
    end = time.monotonic() + 60
    while gateway.count(src) == 0 and time.monotonic() < end:
        time.sleep(0.05)  # polling the database for the first delivery
    assert gateway.count(src) > 0
    if how == "restart":
        gateway.restart()  # SIGTERM: goodbye, then the same port again
    else:
        gateway.kill()  # SIGKILL: frames in flight are never acknowledged
        gateway.start()
    r = dev.result()
    assert r["flushed"] and r["buffer"] == 0 and r["evicted"] == 0, r
    assert seq_values(gateway, src) == list(range(n))


def test_readings_stored_offline_are_delivered_after_a_power_cut(gateway, tmp_path):
    store = str(tmp_path / "flash")
    r = run(tmp_path, "offline", "http://127.0.0.1:9", gateway.key, "mpy-offline", "ws", 400, store)
    assert r["buffer"] == 400 and r["error"]
    r = run(tmp_path, "resume", gateway.url, gateway.key, "mpy-offline", "ws", 0, store)
    assert r["before"] == 400 and r["flushed"] and r["buffer"] == 0
    assert seq_values(gateway, "mpy-offline") == list(range(400))
    assert os.listdir(os.path.join(store)) == []  # acknowledged segments are gone from flash


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_a_refused_key_raises_and_keeps_the_readings(gateway, tmp_path, transport):
    bad = "plx_" + "0" * 48
    r = run(tmp_path, "badkey", gateway.url, bad, "mpy-badkey-" + transport, transport, 30)
    assert r["error"] and r["keyless"], r
    assert r["buffer"] == 30
    assert gateway.count("mpy-badkey-" + transport) == 0


def api(gw, method, path, body=None):
    req = urllib.request.Request(gw.url + path, method=method, headers={
        "x-api-key": gw.key, "Content-Type": "application/json"},
        data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_a_command_run_reaches_the_board_and_its_result_comes_back(gateway, tmp_path):
    dev = Device(tmp_path, "command", gateway.url, gateway.key, "mpy-cmd", "ws", 1)
    dev.expect("READY", 60)
    run = api(gateway, "POST", "/v1/sources/mpy-cmd/runs", {"command": "blink", "params": {"pin": 5}})
    r = dev.result()
    assert r["calls"] == [5]
    end = time.monotonic() + 30
    while time.monotonic() < end:
        got = api(gateway, "GET", "/v1/sources/mpy-cmd/runs/" + run["run_id"])
        if got["state"] == "succeeded":
            break
        time.sleep(0.1)  # polling the Data API for the final state
    assert got["state"] == "succeeded" and got["result"] == {"pin": 5, "on": True}, got


def test_a_v1_command_reaches_the_board_through_a_typed_command_only_relay(hosted_gateway, tmp_path):
    gw = hosted_gateway
    dev = Device(tmp_path, "command", gw.url, gw.key, "mpy-relay", "ws", 2)
    dev.expect("READY", 60)
    bad = api(gw, "POST", "/v1/sources/mpy-relay/commands", {"command": "blink", "params": {"pin": 40}})
    good = api(gw, "POST", "/v1/sources/mpy-relay/commands", {"command": "blink", "params": {"pin": "5"}})
    again = api(gw, "POST", "/v1/sources/mpy-relay/commands", {"command": "blink", "params": {"pin": 6}})

    def ended(cid):
        events = api(gw, "GET", "/v1/sources/mpy-relay/commands/" + cid)["events"]
        return events if len(events) == 2 else None
    r = dev.result()
    assert r["calls"] == [5, 6]      # the relay's source_id param never reached the handler
    events = wait_for(lambda: ended(good["id"]), 60, "the board's answer")
    assert [e["event"] for e in events] == ["ack", "result"] and events[1]["result"] == {"pin": 5, "on": True}
    events = wait_for(lambda: ended(bad["id"]), 60, "the board's answer to a bad pin")
    assert events[1]["error"] == "bad params: param 'pin' is 40, above the maximum 39", events
    assert wait_for(lambda: ended(again["id"]), 60, "the last answer")[1]["result"]["pin"] == 6


def test_poll_task_delivers_for_asyncio_programs(gateway, tmp_path):
    r = run(tmp_path, "asyncio", gateway.url, gateway.key, "mpy-asyncio", "ws", 300)
    assert r["left"] == 0
    assert seq_values(gateway, "mpy-asyncio") == list(range(300))
