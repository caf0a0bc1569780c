"""Delivery per gateway kind: readings lost when the gateway freezes with
readings in flight, and CPython throughput against the hosted profile.

    .venv/bin/python tools/bench_delivery.py [--readings 2000] [--throughput 50000]

1. For each runtime and transport (CPython WS/HTTP, the board client in the
   real MicroPython over WS/HTTP) and each gateway kind (ours, and
   `--profile hosted-2026-08`): send the readings, SIGSTOP the gateway for
   1 s once delivery is under way, SIGKILL it, start it again, wait until the
   client has nothing left, and count readings lost and stored twice.
2. CPython, one send() per reading, from the first send() to the last
   reading stored, against each gateway kind: stored readings/s.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
from support import mpy  # noqa: E402
from support.gateway import Gateway  # noqa: E402

PROFILES = (("ours", None), ("hosted", "hosted-2026-08"))
DEVICE = os.path.join(ROOT, "tests", "board", "mp", "device.py")


def wait(cond, timeout, what):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for " + what)
        time.sleep(0.02)


def freeze_and_kill(gw, source):
    wait(lambda: gw.count(source) > 0, 120, "the first delivery")
    gw.proc.send_signal(signal.SIGSTOP)
    time.sleep(1.0)
    gw.kill()
    gw.start()


def cpython_case(gw, transport, n):
    from plexus import Plexus
    source = "bench-freeze-" + transport
    px = Plexus(api_key=gw.key, source_id=source, ws_url=gw.ws_url, gateway_url=gw.url, transport=transport)

    def sender():
        for i in range(n):
            px.send("seq", i)
            if i % 20 == 0:
                time.sleep(0.001)

    t = threading.Thread(target=sender)
    t.start()
    freeze_and_kill(gw, source)
    t.join()
    wait(lambda: px.buffer_size() == 0, 300, "the client to empty")
    px.close()
    return source


def board_case(gw, transport, n, tmp):
    source = "bench-board-" + transport
    p = subprocess.Popen([mpy.micropython(), "-X", "heapsize=2M", DEVICE, mpy.CORE, "steady", gw.url, gw.key,
                          source, transport, os.path.join(tmp, "flash-" + transport), str(n)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    freeze_and_kill(gw, source)
    out = p.communicate(timeout=600)[0]
    if p.returncode != 0 or "RESULT" not in out:
        raise SystemExit("board program failed:\n" + out)
    return source


def losses(gw, source, n):
    got = Counter(p["value"] for p in gw.points(source) if p["metric"] == "seq")
    return sum(1 for i in range(n) if got[i] == 0), sum(c - 1 for c in got.values() if c > 1)


def throughput(gw, n):
    from plexus import Plexus
    px = Plexus(api_key=gw.key, source_id="bench-rate", ws_url=gw.ws_url, gateway_url=gw.url)
    t0 = time.perf_counter()
    for i in range(n):
        px.send("seq", i)
    wait(lambda: gw.count("bench-rate") >= n, 600, "every reading stored")
    dt = time.perf_counter() - t0
    px.close()
    return n / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--readings", type=int, default=2000)
    ap.add_argument("--throughput", type=int, default=50000, help="readings for the throughput run (0: skip)")
    args = ap.parse_args()
    os.environ["PLEXUS_QUIET"] = "1"
    n = args.readings
    print("SIGSTOP 1 s, then SIGKILL, then a restart; %d readings each" % n)
    print("%-8s %-10s %-5s %6s %8s" % ("gateway", "runtime", "link", "lost", "doubled"))
    for name, profile in PROFILES:
        for runtime in ("cpython", "board"):
            for transport in ("ws", "http"):
                with tempfile.TemporaryDirectory() as tmp:
                    gw = Gateway(os.path.join(tmp, "gw"), profile=profile).start()
                    try:
                        if runtime == "cpython":
                            source = cpython_case(gw, transport, n)
                        else:
                            source = board_case(gw, transport, n, tmp)
                        lost, doubled = losses(gw, source, n)
                    finally:
                        gw.stop()
                print("%-8s %-10s %-5s %6d %8d" % (name, runtime, transport, lost, doubled), flush=True)
    if args.throughput:
        print("CPython, %d readings, one send() each, until all are stored (WS transport)" % args.throughput)
        for name, profile in PROFILES:
            with tempfile.TemporaryDirectory() as tmp:
                gw = Gateway(os.path.join(tmp, "gw"), profile=profile, rate_limits=profile is not None).start()
                try:
                    rate = throughput(gw, args.throughput)
                finally:
                    gw.stop()
            print("%-8s %10.0f readings/s" % (name, rate), flush=True)


if __name__ == "__main__":
    main()
