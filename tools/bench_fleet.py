"""The gateway under a fleet's load: N device sockets, each sending one
10-point frame a second with acks on, against a fresh local gateway
(SQLite, synchronous=FULL, or PostgreSQL with --store; rate limits off).

Per step it prints the ack latency (p50/p99), the gateway's CPU (% of one
core) and RSS, its CPU per frame, and the load generator's own CPU, so the
reader sees when the machine, not the gateway, is the limit. Then the
overload case: offered load about twice what the last step stored at its
limit (or, when it kept up, what one core allows at its CPU per frame), to
show that RSS stays flat, no frame is lost, and devices are slowed by
backpressure (they keep unacknowledged frames, at most 32 in flight, as
real clients do). For SQLite it prints the WAL's size at the end.

    .venv/bin/python tools/bench_fleet.py [--devices 100,500,1000,2000,5000] [--seconds 60]
        [--procs N] [--overload-devices 1000] [--overload-seconds 60] [--no-overload]
        [--store postgresql --gateway-args "--workers 2"] [--history 200]

--history K gives every source of every step K earlier points per metric
before the steps (SQLite): a database a fleet has used for a while, where
each metric's run in the index is longer than a page, not a fresh file.

Each generator process (asyncio Protocols on uvloop) runs a share of the sockets.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "core"))

from plexus_board import wsframe, wshandshake  # noqa: E402
from plexus_board.httphead import parse_head  # noqa: E402

WINDOW = 32          # unacknowledged frames a device keeps in flight (the clients' limit)
POINTS = 10


# -- the generator (one process, many sockets) ----------------------------------------
# Each device is an asyncio Protocol speaking WebSocket through the board
# package's sans-I/O pieces (the handshake, frame headers, the frame reader),
# on uvloop: about a tenth of the CPU per frame that aiohttp's client took,
# so the machine's cores go to the gateway being measured. Frames are masked
# with the all-zero key (valid RFC 6455, and XOR by zero costs nothing).

ZERO_KEY = b"\0\0\0\0"
ACK_HEAD = b'{"type":"telemetry_ack","seq":'


def _template(sid):
    """A device's frame with slots for seq, batch seq, then each point's value and timestamp."""
    pts = ",".join('{"metric":"m%d","value":%%d.5,"timestamp":%%d}' % i for i in range(POINTS))
    return '{"type":"telemetry","seq":%%d,"batch_id":"%s-%%d","points":[%s]}' % (sid, pts)


def _frame(template, seq):
    now = int(time.time() * 1000)
    args = [seq, seq]
    for i in range(POINTS):
        args += (seq + i, now)
    return template % tuple(args)


class Device(asyncio.Protocol):
    def __init__(self, sid, host, key, rate, clock):
        self.sid, self.host, self.key, self.clock = sid, host, key, clock
        self._template = _template(sid)
        self.period = 1.0 / rate
        self.seq = 0          # last frame sent
        self.acked = 0
        self.made = 0         # frames the device has produced (sent or buffered)
        self.sent_at = {}     # seq -> loop time at send
        self.lat = []         # ack latencies (s) inside the measuring window
        self.loop = asyncio.get_running_loop()
        self.authed = self.loop.create_future()
        self.drained = self.loop.create_future()
        self.transport = None
        self._head = bytearray()       # the upgrade response, until it is whole
        self._reader = None
        self._out = bytearray(14)

    # the socket
    def connection_made(self, transport):
        self.transport = transport
        self._ws_key = wshandshake.new_key(os.urandom(16))
        transport.write(wshandshake.handshake_request(self.host, "/ws/device", self._ws_key))

    def connection_lost(self, exc):
        err = ConnectionError("%s: socket closed (%s)" % (self.sid, exc))
        for fut in (self.authed, self.drained):
            if not fut.done():
                fut.set_exception(err)

    def data_received(self, data):
        if self._reader is None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            status, headers = parse_head(self._head[:end])
            wshandshake.check_handshake(status, headers, self._ws_key)
            data, self._reader = bytes(self._head[end + 4:]), wsframe.Reader(1 << 20)
            self._send(wsframe.TEXT, json.dumps({
                "type": "device_auth", "api_key": self.key, "source_id": self.sid, "platform": "bench",
                "agent_version": "0", "protocol": 1, "acks": True}).encode())
        self._reader.feed(data)
        while True:
            m = self._reader.next()
            if m is None:
                return
            op, payload = m
            if op == wsframe.TEXT:
                self._text(payload)
            elif op == wsframe.PING:
                self._send(wsframe.PONG, payload)

    def _send(self, op, payload):
        n = wsframe.header(op, len(payload), ZERO_KEY, self._out)
        self.transport.write(bytes(self._out[:n]) + payload)

    def _text(self, payload):
        if payload.startswith(ACK_HEAD):
            self._ack(int(payload[len(ACK_HEAD):-1]))
            return
        f = json.loads(payload)
        if not self.authed.done():
            if f.get("type") == "authenticated":
                self.authed.set_result(None)
            else:
                self.authed.set_exception(RuntimeError("%s: %r" % (self.sid, f)))

    def _ack(self, seq):
        now = self.loop.time()
        measuring = self.clock["measuring"]
        for s in range(self.acked + 1, seq + 1):
            t = self.sent_at.pop(s)
            if measuring:
                self.lat.append(now - t)
        self.acked = seq
        self._pump()

    # the schedule: a frame is produced every period, sent when the window allows
    def start(self):
        self._next_t = self.loop.time() + random.random() * self.period
        self.loop.call_at(self._next_t, self._tick)

    def _tick(self):
        if self.clock["stop"]:
            return
        self.made += 1
        self._next_t += self.period
        self.loop.call_at(self._next_t, self._tick)
        self._pump()

    def _pump(self):
        while self.seq < self.made and self.seq - self.acked < WINDOW:
            self.seq += 1
            self.sent_at[self.seq] = self.loop.time()
            self._send(wsframe.TEXT, _frame(self._template, self.seq).encode())
        if self.clock["stop"] and self.acked == self.made and not self.drained.done():
            self.drained.set_result(None)


async def _generate(url, key, prefix, first, count, rate, seconds):
    host, port = url.split("//", 1)[1].split("/")[0].rsplit(":", 1)
    loop = asyncio.get_running_loop()
    clock = {"stop": False, "measuring": False}
    devs = [Device("%s-%d" % (prefix, i), "%s:%s" % (host, port), key, rate, clock)
            for i in range(first, first + count)]
    for i, d in enumerate(devs):  # connect in small waves, as a fleet coming online does
        await loop.create_connection(lambda d=d: d, host, int(port))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    await asyncio.gather(*(d.authed for d in devs))
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    for d in devs:
        d.start()
    await asyncio.sleep(min(2.0, seconds / 5))    # let the phases spread out before measuring
    clock["measuring"] = True
    ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    acked0 = sum(d.acked for d in devs)
    made0 = sum(d.made for d in devs)
    print("measuring", flush=True)
    await asyncio.sleep(seconds)
    ru1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    acked1 = sum(d.acked for d in devs)
    made1 = sum(d.made for d in devs)
    clock["measuring"] = False
    backlog = sum(d.made - d.acked for d in devs)
    clock["stop"] = True
    for d in devs:
        d._pump()
    await asyncio.wait_for(asyncio.gather(*(d.drained for d in devs)), 120)
    for d in devs:
        d.transport.close()
    lat = sorted(x for d in devs for x in d.lat)
    print(json.dumps({"cpu_s": ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, "wall_s": t1 - t0,
                      "acked": acked1 - acked0, "made": made1 - made0, "backlog_at_end": backlog,
                      "frames_total": sum(d.made for d in devs), "lat": lat[::max(1, len(lat) // 20000)]}),
          flush=True)


def worker_main(argv):
    url, key, prefix = argv[0], argv[1], argv[2]
    first, count, rate, seconds = int(argv[3]), int(argv[4]), float(argv[5]), float(argv[6])
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    run(_generate(url, key, prefix, first, count, rate, seconds))


# -- the driver ------------------------------------------------------------------------

def _proc_cpu_s(pid, path="/proc/%d/stat"):
    with open(path % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _gateway_pids(pid):
    """The gateway process and its children: SQLite's writer process, or with
    --workers the workers."""
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return pids


def _is_writer(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return b"writer_process" in f.read()


def _cpu_split(pids):
    """(event loop threads' CPU s, store writer and other threads' CPU s) over
    the gateway's processes (SQLite's writer process is all writer)."""
    loop = other = 0.0
    for pid in pids:
        writer = _is_writer(pid)
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                t = _proc_cpu_s(int(tid), "/proc/%d/task/%%d/stat" % pid)
            except OSError:
                continue
            if int(tid) == pid and not writer:
                loop += t
            else:
                other += t
    return loop, other


def _db_cpu_s(store):
    """CPU seconds of the PostgreSQL server so far (postmaster, backends and
    helpers, including ones that have exited), or 0 for SQLite: the hosted
    gateway's figures name Redis's CPU beside its own, and so do these."""
    if store != "postgresql":
        return 0.0
    from support import postgres
    pid = postgres.server().postmaster()
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    own = sum(int(x) for x in fields[11:15])  # utime, stime, and its reaped children's cutime, cstime
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        kids = [int(x) for x in f.read().split()]
    tck = os.sysconf("SC_CLK_TCK")
    return own / tck + sum(_proc_cpu_s(k) for k in kids if os.path.exists("/proc/%d" % k))


def _proc_rss_mb(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def _file_mb(path):
    return os.path.getsize(path) / 1e6 if os.path.exists(path) else 0.0


def _stored(gw):
    return gw._query("SELECT count(*) FROM points", ())[0][0]


def _history(path, sources, per_metric):
    """K points per metric for every source, a second apart and in index
    order (a fast append), in the table the gateway's index is on."""
    import sqlite3

    conn = sqlite3.connect(path, timeout=30)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    table = "points_indexed" if "points_indexed" in tables else "points"
    t0 = int(time.time() * 1000) - per_metric * 1000 - 60000
    with conn:
        for sid in sources:
            conn.executemany("INSERT INTO %s (source_id, metric, class, ts, num, value, received_ms) "
                             "VALUES (?, ?, 'metric', ?, ?, ?, ?)" % table,
                             ((sid, "m%d" % m, t0 + k * 1000, k + 0.5, repr(k + 0.5), t0 + k * 1000)
                              for m in range(POINTS) for k in range(per_metric)))
            conn.executemany("INSERT OR IGNORE INTO metric_names (source_id, metric) VALUES (?, ?)",
                             ((sid, "m%d" % m) for m in range(POINTS)))
    n = conn.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
    conn.close()
    return n


def _pct(lat, q):
    return lat[min(len(lat) - 1, int(len(lat) * q))] * 1000 if lat else float("nan")


def run_step(gw, devices, rate, seconds, procs, prefix, store="sqlite"):
    """One load level; returns a dict of results."""
    share = [devices // procs + (1 if i < devices % procs else 0) for i in range(procs)]
    workers, first = [], 0
    for n in share:
        if n:
            workers.append(subprocess.Popen([sys.executable, __file__, "--worker", gw.url.replace("http", "ws", 1),
                                             gw.key, prefix, str(first), str(n), str(rate), str(seconds)],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        first += n
    for w in workers:
        assert w.stdout.readline().strip() == "ready", "a generator process failed to connect its sockets"
    for w in workers:
        w.stdin.write("go\n")
        w.stdin.flush()
    for w in workers:
        assert w.stdout.readline().strip() == "measuring"
    pids = _gateway_pids(gw.proc.pid)
    (loop0, other0), t0, db0 = _cpu_split(pids), time.perf_counter(), _db_cpu_s(store)
    cpu0 = loop0 + other0
    rss = [sum(_proc_rss_mb(p) for p in pids)]
    while time.perf_counter() - t0 < seconds:
        time.sleep(min(1.0, seconds / 10))   # sampling the gateway's RSS while the generators run
        rss.append(sum(_proc_rss_mb(p) for p in pids))
    (loop1, other1), t1, db1 = _cpu_split(pids), time.perf_counter(), _db_cpu_s(store)
    cpu1 = loop1 + other1
    results = [json.loads(w.stdout.readline()) for w in workers]
    for w in workers:
        w.wait(300)
    lat = sorted(x for r in results for x in r["lat"])
    acked = sum(r["acked"] for r in results)
    wall = max(r["wall_s"] for r in results)
    return {"devices": devices, "acked_per_s": acked / wall, "offered_per_s": sum(r["made"] for r in results) / wall,
            "p50": _pct(lat, 0.5), "p99": _pct(lat, 0.99), "gw_cpu": 100 * (cpu1 - cpu0) / (t1 - t0),
            "rss_first": rss[0], "rss_max": max(rss), "rss_last": rss[-1], "rss": rss,
            "cpu_per_frame_ms": 1000 * (cpu1 - cpu0) / acked if acked else float("nan"),
            "loop_ms": 1000 * (loop1 - loop0) / acked if acked else float("nan"),
            "writer_ms": 1000 * (other1 - other0) / acked if acked else float("nan"),
            "db_cpu": 100 * (db1 - db0) / (t1 - t0),
            "db_ms": 1000 * (db1 - db0) / acked if acked else float("nan"),
            "load": os.getloadavg()[0],
            "gen_cpu": 100 * sum(r["cpu_s"] for r in results) / wall,
            "backlog_at_end": sum(r["backlog_at_end"] for r in results),
            "frames_total": sum(r["frames_total"] for r in results)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", default="100,500,1000,2000,5000", help="comma-separated socket counts")
    ap.add_argument("--seconds", type=float, default=60, help="measuring window per step (default 60)")
    ap.add_argument("--procs", type=int, default=0, help="generator processes (default: one per 1,500 sockets)")
    ap.add_argument("--overload-devices", type=int, default=1000)
    ap.add_argument("--overload-seconds", type=float, default=None, help="default: --seconds")
    ap.add_argument("--no-overload", action="store_true")
    ap.add_argument("--gateway-args", default="", help="more `plexus gateway` options, space-separated "
                    "(e.g. \"--workers 2\" with --store postgresql)")
    ap.add_argument("--store", default="sqlite", choices=("sqlite", "postgresql"),
                    help="postgresql: a server of the tests' own (tests/support/postgres.py), a fresh database")
    ap.add_argument("--history", type=int, default=0, metavar="K",
                    help="K earlier points per metric for every source before the steps (SQLite only)")
    args = ap.parse_args()
    if args.history and args.store != "sqlite":
        ap.error("--history fills a SQLite file; leave it out with --store postgresql")
    from support.gateway import Gateway

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets, both ends
    with tempfile.TemporaryDirectory() as tmp:
        gw = Gateway(tmp, rate_limits=False, args=args.gateway_args.split(), store=args.store)
        gw.start()
        try:
            print("gateway pid %d, %d cores, load average %.1f at start (a shared machine skews every number)"
                  % (gw.proc.pid, os.cpu_count(), os.getloadavg()[0]))
            print("CPU/frame = loop (event loop threads) + writer (store and other threads); load = the machine's "
                  "1-minute load average at the end of the step")
            pg = args.store == "postgresql"
            if pg:
                print("db = the PostgreSQL server's own CPU (%, and ms per frame), not in the gateway's figures")
            print("%7s %9s %9s %9s %8s %8s %10s %15s %8s %5s%s" % (
                "devices", "frames/s", "ack p50", "ack p99", "gw CPU", "gw RSS", "CPU/frame", "loop + writer",
                "gen CPU", "load", "  db CPU  db/frame" if pg else ""))
            steps = [int(x) for x in args.devices.split(",")]
            # sources of their own per step: a repeated batch id would be acknowledged without a write
            prefixes = ["step%d-%d" % (i, n) for i, n in enumerate(steps)]
            if args.history:
                t = time.monotonic()
                rows = _history(gw.db_path, ["%s-%d" % (p, k) for p, n in zip(prefixes, steps) for k in range(n)],
                                args.history)
                print("history: %d points per metric for each of %d sources, %d rows, written in %.0f s"
                      % (args.history, sum(steps), rows, time.monotonic() - t))
            last = None
            for n, prefix in zip(steps, prefixes):
                procs = args.procs or max(1, -(-n // 1500))
                r = run_step(gw, n, 1.0, args.seconds, procs, prefix, args.store)
                last = r
                print("%7d %9.0f %7.1fms %7.1fms %7.0f%% %6.0fMB %8.3fms %6.3f + %.3f %7.0f%% %5.1f%s" % (
                    n, r["acked_per_s"], r["p50"], r["p99"], r["gw_cpu"], r["rss_max"], r["cpu_per_frame_ms"],
                    r["loop_ms"], r["writer_ms"], r["gen_cpu"], r["load"],
                    " %6.0f%% %7.3fms" % (r["db_cpu"], r["db_ms"]) if pg else ""), flush=True)
            if last and not args.no_overload:
                if last["acked_per_s"] < 0.98 * last["offered_per_s"]:  # the last step found the limit
                    capacity, why = last["acked_per_s"], "stored at %d devices" % last["devices"]
                else:
                    capacity = 1000.0 / last["cpu_per_frame_ms"]
                    why = "one core allows at %.3f ms/frame" % last["cpu_per_frame_ms"]
                nd = args.overload_devices
                rate = 2 * capacity / nd
                secs = args.overload_seconds or args.seconds
                before = _stored(gw)
                r = run_step(gw, nd, rate, secs, args.procs or max(1, -(-nd // 1500)), "overload", args.store)
                stored = _stored(gw) - before
                print("\noverload: %d devices x %.1f frames/s = %.0f frames/s offered (~2x the %.0f frames/s "
                      "%s), %.0f s" % (nd, rate, nd * rate, capacity, why, secs))
                print("  acknowledged %.0f frames/s (devices slowed by backpressure: %d frames buffered on the "
                      "devices at the end of the window)" % (r["acked_per_s"], r["backlog_at_end"]))
                print("  gateway RSS %.0f MB at the start, %.0f MB max, %.0f MB at the end; gateway CPU %.0f%%, "
                      "generator CPU %.0f%%" % (r["rss_first"], r["rss_max"], r["rss_last"], r["gw_cpu"],
                                                r["gen_cpu"]))
                trace = r["rss"][::max(1, len(r["rss"]) // 8)]
                print("  gateway RSS over the window: %s MB" % " ".join("%.0f" % x for x in trace))
                print("  ack p50 %.1f ms, p99 %.1f ms" % (r["p50"], r["p99"]))
                lost = r["frames_total"] * POINTS - stored
                print("  frames produced %d, points stored %d: %s" % (
                    r["frames_total"], stored, "nothing lost" if lost == 0 else "%d POINTS MISSING" % lost))
                print("  " + (gw.log().count("gateway is behind") and "the gateway logged that it was behind"
                              or "no 'behind' warning in the gateway's log"))
                if args.store == "sqlite":  # checkpoints keep the write-ahead log from growing with the load
                    print("  SQLite write-ahead log at the end: %.0f MB" % (_file_mb(gw.db_path + "-wal")))
        finally:
            gw.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:])
    else:
        main()
