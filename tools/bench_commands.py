"""Commands: round-trip latency and throughput through a local gateway, and
the board's memory for command bookkeeping.

    .venv/bin/python tools/bench_commands.py [--runs 200] [--burst 500]

1. Latency: one v1 run at a time, POST /runs -> the run reads back
   `succeeded` from GET /runs/{id} (polled every 2 ms), and the same for
   legacy commands (POST /commands -> `result` event stored). p50/p95/max.
2. Throughput: --burst runs started from 8 operator threads at once against
   one device; runs/s until every handler ran and every status was
   acknowledged by the gateway (each run then checked stored as succeeded).
3. Board memory (the real MicroPython interpreter): heap held by the command
   modules once imported, and after 300 runs went through (ring and queue
   full), from .mpy files; and the smallest heap that imports them from .mpy
   and handles the 300 runs.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

BOARD_SCRIPT = r"""
import gc, json
gc.collect()
base = gc.mem_alloc()
from plexus_board.commands import BoardCommands
gc.collect()
imported = gc.mem_alloc() - base
t = [0]
cmds = BoardCommands(lambda: t[0])
@cmds.command(params={"pin": {"type": "integer", "minimum": 0, "maximum": 39}})
def blink(run, pin):
    return pin
ACK = ACK_ON
sent = [0]
def write(text):
    sent[0] += 1
    if ACK:  # the gateway acknowledges each status
        f = json.loads(text)
        cmds.frame({"type": "command_status_ack", "run_id": f["run_id"], "seq": f["seq"]}, write)
    return True
for i in range(300):
    rid = "%032x" % (0x5be1c0f2a9d84e07b6a1f3c2d4e5f607 + i)  # uuid4().hex-sized ids
    cmds.frame({"type": "command_run", "run_id": rid, "command": "blink", "params": {"pin": 2},
                "ttl_ms": 5000, "attempt": 1}, write)
gc.collect()
after = gc.mem_alloc() - base
print(json.dumps({"imported": imported, "after_300_runs": after, "frames": sent[0]}))
"""


def percentiles(xs):
    xs = sorted(xs)
    return {"p50": statistics.median(xs), "p95": xs[int(len(xs) * 0.95) - 1], "max": xs[-1]}


def fmt(p):
    return "p50 %.1f ms  p95 %.1f ms  max %.1f ms" % (p["p50"], p["p95"], p["max"])


def latency(api, n):
    v1, legacy = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        rid = api.start("bench-1", "noop")
        while api.run("bench-1", rid)["state"] != "succeeded":
            time.sleep(0.002)  # polling the Data API, as an operator does
        v1.append((time.perf_counter() - t0) * 1000)
    for _ in range(n):
        t0 = time.perf_counter()
        status, body = api.send_legacy("bench-1", "ping")
        assert status == 200, body
        while api.legacy_events("bench-1", body["id"])[-1:] != ["result"]:
            time.sleep(0.002)
        legacy.append((time.perf_counter() - t0) * 1000)
    return percentiles(v1), percentiles(legacy)


def burst(api, px, calls, n, threads=8):
    """Runs/s from the first POST until every handler ran and the gateway
    acknowledged every status (the device <-> gateway path); then each run
    is read back once to check it is stored as succeeded (not timed)."""
    ids = []
    lock = threading.Lock()
    before = len(calls)

    def start(k):
        for _ in range(k):
            rid = api.start("bench-1", "noop")
            with lock:
                ids.append(rid)
    t0 = time.perf_counter()
    ts = [threading.Thread(target=start, args=(n // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    while len(calls) - before < len(ids) or px._commands.unacknowledged:
        time.sleep(0.002)
    rate = len(ids) / (time.perf_counter() - t0)
    bad = [r for r in ids if api.run("bench-1", r)["state"] != "succeeded"]
    assert not bad, "%d runs not stored as succeeded" % len(bad)
    return rate, len(ids)


def get_ms(api, rid, n=50):
    t0 = time.perf_counter()
    for _ in range(n):
        api.run("bench-1", rid)
    return (time.perf_counter() - t0) * 1000 / n


def board_memory(acked):
    from support import mpy
    with tempfile.TemporaryDirectory() as d:
        core = mpy.compile_core(d)
        script = os.path.join(d, "bench.py")
        with open(script, "w") as f:
            f.write(BOARD_SCRIPT.replace("ACK_ON", "True" if acked else "False"))
        env = {"MICROPYPATH": core}
        r = mpy.run([script], heap="2M", env=env)
        if r.returncode:
            raise RuntimeError(r.stderr)
        import json
        mem = json.loads(r.stdout.strip().splitlines()[-1])
        lo, hi = 8, 256  # KiB: bisect the smallest heap that runs it
        while lo < hi:
            mid = (lo + hi) // 2
            ok = mpy.run([script], heap="%dK" % mid, env=env).returncode == 0
            lo, hi = (lo, mid) if ok else (mid + 1, hi)
        mem["min_heap_kib"] = lo
        return mem


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--burst", type=int, default=500)
    args = ap.parse_args()

    os.environ.setdefault("PLEXUS_QUIET", "1")
    from plexus import Plexus
    from support.gateway import Gateway
    sys.path.insert(0, str(ROOT / "tests" / "commands"))
    from cmdutil import Api, wait_for

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HOME"] = tmp  # the device's buffer and config stay in here
        gw = Gateway(Path(tmp) / "gw", rate_limits=False).start()
        px = Plexus(api_key=gw.key, source_id="bench-1", ws_url=gw.ws_url, persistent_buffer=False)
        try:
            calls = []
            px.command("noop")(lambda run: calls.append(1))
            px.on_command("ping", lambda command, params: {"pong": True})
            api = Api(gw)
            wait_for(lambda: px.connected and api.declared("bench-1") == ["noop"], 60, "declared")
            latency(api, 10)  # warm up
            v1, legacy = latency(api, args.runs)
            rate, n = burst(api, px, calls, args.burst)
            one_get = get_ms(api, api.start("bench-1", "noop"))
        finally:
            px.close()
            gw.stop()
    acked = board_memory(True)
    offline = board_memory(False)
    print("v1 run round trip (%d runs, POST -> stored succeeded): %s" % (args.runs, fmt(v1)))
    print("legacy command round trip (%d, POST -> stored result): %s" % (args.runs, fmt(legacy)))
    print("  (one Data API GET alone takes %.1f ms here: most of the round trip)" % one_get)
    print("v1 burst: %d runs from 8 threads, %.0f runs/s until every status was acknowledged"
          % (n, rate))
    print("board (.mpy, 64-bit heap): command modules hold %.1f KiB once imported" % (acked["imported"] / 1024))
    for what, m in (("every status acknowledged", acked), ("a gateway that never acknowledges", offline)):
        print("  after 300 runs, %s: %.1f KiB held; smallest heap for import + 300 runs: %d KiB"
              % (what, m["after_300_runs"] / 1024, m["min_heap_kib"]))
    print("RESULT " + json.dumps({"v1_p50_ms": round(v1["p50"], 1), "legacy_p50_ms": round(legacy["p50"], 1),
                                  "burst_runs_per_s": round(rate), "board_imported_kib": round(acked["imported"] / 1024, 1),
                                  "board_min_heap_kib": acked["min_heap_kib"]}))


if __name__ == "__main__":
    main()
