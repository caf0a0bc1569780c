"""Throughput and send() latency: our client against plexus-python 0.16.0.

    .venv/bin/python tools/bench_client.py [--n 20000]

One local gateway (a real subprocess, the test fixture's Gateway), the same
N readings, one send() call per reading, through each client in turn.
Reported for each: readings acknowledged-and-stored per second, from the
first send() to the moment the last reading is confirmed stored (ours: the
store is empty, i.e. every batch was acknowledged; the published client:
its sends returned and its ack window drained), with the stored count read
back from the gateway's database. For ours also the send() latency on the
caller's thread (p50/p99/p99.9/max). Targets: >= 20x the published client's
throughput and p99 <= 20 µs. The published client is installed into its own
virtualenv (never into this one: it would shadow our `plexus`).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

PEER = textwrap.dedent("""
    import json, os, sys, time
    from plexus import Plexus
    key, ws_url, source, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    px = Plexus(api_key=key, source_id=source, ws_url=ws_url)
    px.send("warmup", 0.0)                  # connects (waits for auth once)
    t0 = time.perf_counter()
    for i in range(n):
        px.send("bench", float(i))
    sent = time.perf_counter()
    ws = px._ws
    if ws is not None:
        ws.wait_for_acks(120.0)
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0, "send_seconds": sent - t0,
                      "rate_limited_frames": px.rate_limited_frames}))
    px.close()
""")


def wait_stored(gw, source, n, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = gw.count(source)
        if c >= n:
            return c
        time.sleep(0.05)
    return gw.count(source)


def bench_ours(gw, n, home):
    env_before = dict(os.environ)
    os.environ.update({"HOME": home, "PLEXUS_CONFIG_DIR": home + "/.plexus",
                       "PLEXUS_QUIET": "1"})
    try:
        from plexus import Plexus
        px = Plexus(api_key=gw.key, source_id="bench-ours", ws_url=gw.ws_url)
        px.send("warmup", 0.0)
        deadline = time.monotonic() + 30
        while px.buffer_size() and time.monotonic() < deadline:
            time.sleep(0.01)
        lat = [0] * n
        clock = time.perf_counter_ns
        send = px.send
        t0 = time.perf_counter()
        for i in range(n):
            a = clock()
            send("bench", float(i))
            lat[i] = clock() - a
        sent = time.perf_counter()
        while px.buffer_size():
            time.sleep(0.0005)
        t1 = time.perf_counter()
        px.close()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    lat.sort()
    pct = lambda q: lat[min(n - 1, int(n * q))] / 1000.0
    return {"seconds": t1 - t0, "send_seconds": sent - t0, "p50_us": pct(0.50),
            "p99_us": pct(0.99), "p999_us": pct(0.999), "max_us": lat[-1] / 1000.0}


def bench_peer(gw, n, py, home):
    env = dict(os.environ, HOME=home, PLEXUS_QUIET="1", PLEXUS_GATEWAY_URL=gw.url)
    env.pop("PYTHONPATH", None)
    out = subprocess.run([py, "-c", PEER, gw.key, gw.ws_url, "bench-peer", str(n)],
                         capture_output=True, text=True, env=env, cwd=home, timeout=1800)
    if out.returncode != 0:
        raise SystemExit("plexus-python 0.16.0 run failed:\n" + out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="readings per client")
    args = ap.parse_args()
    from support.gateway import Gateway
    from support.peers import peer_python

    peer_py = peer_python("0.16.0")  # its own virtualenv under .peers/
    with tempfile.TemporaryDirectory() as tmp:
        gw = Gateway(Path(tmp), rate_limits=False)  # measure the clients, not the gateway's limits
        gw.start()
        try:
            ours = bench_ours(gw, args.n, tempfile.mkdtemp(dir=tmp))
            ours["stored"] = wait_stored(gw, "bench-ours", args.n)
            peer = bench_peer(gw, args.n, peer_py, tempfile.mkdtemp(dir=tmp))
            peer["stored"] = wait_stored(gw, "bench-peer", args.n, timeout=10)
        finally:
            gw.stop()

    ours_rate = ours["stored"] / ours["seconds"]
    peer_rate = peer["stored"] / peer["seconds"]
    print("readings per client: %d, one send() each, same local gateway" % args.n)
    print("ours            : %8.0f stored/s  (%d stored in %.2f s; send loop %.2f s)"
          % (ours_rate, ours["stored"], ours["seconds"], ours["send_seconds"]))
    print("plexus-python   : %8.0f stored/s  (%d stored in %.2f s; send loop %.2f s; "
          "rate-limited frames %s)" % (peer_rate, peer["stored"], peer["seconds"],
                                       peer["send_seconds"], peer["rate_limited_frames"]))
    print("ratio           : %8.1fx  (target >= 20x)" % (ours_rate / peer_rate))
    print("send() latency  : p50 %.1f us, p99 %.1f us (target <= 20), p99.9 %.1f us, "
          "max %.0f us" % (ours["p50_us"], ours["p99_us"], ours["p999_us"], ours["max_us"]))
    print("RESULT " + json.dumps({"ours_stored_per_s": round(ours_rate), "peer_stored_per_s": round(peer_rate),
                                  "ratio": round(ours_rate / peer_rate, 1), "send_p50_us": round(ours["p50_us"], 1),
                                  "send_p99_us": round(ours["p99_us"], 1), "ours_stored": ours["stored"],
                                  "peer_stored": peer["stored"], "readings": args.n}))


if __name__ == "__main__":
    main()
