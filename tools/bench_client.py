"""Throughput, CPU per reading and send() latency: our client against plexus-python 0.16.0.

    .venv/bin/python tools/bench_client.py [--n 100000]

One local gateway (a real subprocess, the test fixture's Gateway, rate
limits off so the clients are measured, not the gateway's limits), the same
N readings, one send() call per reading, through each client in turn. Each
client runs in a process of its own, so its CPU time is its own:

- stored/s: N over the time from starting the client's process to the moment
  its last reading was confirmed stored (ours: flush_buffer() returned True,
  i.e. the gateway acknowledged every batch; the published client: its ack
  window drained), with the stored count then read back from the gateway's
  database. Interpreter start, imports and connecting are inside that time.
- CPU s per 100,000 readings: user + system time of the client's process
  (getrusage, all its threads) over the same span, scaled to 100,000.

Both clients import from compiled bytecode, as after a pip install (each is
imported once before its timed run, with bytecode writing allowed).

Targets: >= 20x the published client's stored readings/s and <= 1/20 of its
CPU per reading, in the same run. A third process measures our send()
latency on the caller's thread (p50/p99/p99.9/max; target p99 <= 20 µs),
kept out of the first run so the clock calls are not in its CPU time. The
published client is installed into its own virtualenv (never into this one:
it would shadow our `plexus`).
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

# Each program prints one JSON line: when its last reading was confirmed
# (CLOCK_MONOTONIC, shared by every process on the machine) and its CPU time
# until then.
OURS = textwrap.dedent("""
    import json, resource, sys, time
    from plexus import Plexus
    key, ws_url, source, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    px = Plexus(api_key=key, source_id=source, ws_url=ws_url)
    send = px.send
    for i in range(n):
        send("bench", float(i))
    sent = time.monotonic()
    ok = px.flush_buffer(120.0)
    done = time.monotonic()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"done": done, "sent": sent, "confirmed": ok,
                      "cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime, "sys": ru.ru_stime}))
    sys.stdout.flush()
    px.close()
""")

PEER = textwrap.dedent("""
    import json, resource, sys, time
    from plexus import Plexus
    key, ws_url, source, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    px = Plexus(api_key=key, source_id=source, ws_url=ws_url)
    for i in range(n):
        px.send("bench", float(i))
    sent = time.monotonic()
    ws = px._ws
    ok = ws.wait_for_acks(120.0) if ws is not None else False
    done = time.monotonic()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"done": done, "sent": sent, "confirmed": bool(ok),
                      "cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime, "sys": ru.ru_stime,
                      "rate_limited_frames": px.rate_limited_frames}))
    sys.stdout.flush()
    px.close()
""")

LATENCY = textwrap.dedent("""
    import json, sys, time
    from plexus import Plexus
    key, ws_url, source, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    px = Plexus(api_key=key, source_id=source, ws_url=ws_url)
    px.send("warmup", 0.0)
    px.flush_buffer(30.0)
    lat = [0] * n
    clock = time.perf_counter_ns
    send = px.send
    for i in range(n):
        a = clock()
        send("bench", float(i))
        lat[i] = clock() - a
    px.flush_buffer(120.0)
    px.close()
    lat.sort()
    pct = lambda q: lat[min(n - 1, int(n * q))] / 1000.0
    print(json.dumps({"p50_us": pct(0.50), "p99_us": pct(0.99), "p999_us": pct(0.999),
                      "max_us": lat[-1] / 1000.0}))
""")


def wait_stored(gw, source, n, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = gw.count(source)
        if c >= n:
            return c
        time.sleep(0.05)
    return gw.count(source)


def client_env(home, gw):
    env = dict(os.environ, HOME=home, PLEXUS_CONFIG_DIR=home + "/.plexus", PLEXUS_QUIET="1",
               PLEXUS_GATEWAY_URL=gw.url)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its .pyc files
    return env


def process_cpu(pid):
    """User + system seconds of a process so far (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_client(py, program, gw, source, n, home):
    """Run one client program in its own process; its JSON line plus `start`
    and the gateway's CPU seconds meanwhile."""
    env = client_env(home, gw)
    subprocess.run([py, "-c", "import plexus, websocket"], env=env, cwd=home, check=True)
    gw_cpu = process_cpu(gw.proc.pid)
    start = time.monotonic()
    out = subprocess.run([py, "-c", program, gw.key, gw.ws_url, source, str(n)],
                         capture_output=True, text=True, env=env, cwd=home, timeout=1800)
    if out.returncode != 0:
        raise SystemExit("%s run failed:\n%s" % (source, out.stderr[-2000:]))
    got = json.loads(out.stdout.strip().splitlines()[-1])
    got["start"] = start
    after = process_cpu(gw.proc.pid)
    got["gateway_cpu"] = None if gw_cpu is None or after is None else after - gw_cpu
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100000, help="readings per client")
    ap.add_argument("--no-latency", action="store_true", help="skip the send() latency run")
    args = ap.parse_args()
    from support.gateway import Gateway
    from support.peers import peer_python

    n = args.n
    peer_py = peer_python("0.16.0")  # its own virtualenv under .peers/
    ours_py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        gw = Gateway(Path(tmp), rate_limits=False)  # measure the clients, not the gateway's limits
        gw.start()
        try:
            ours = run_client(ours_py, OURS, gw, "bench-ours", n, tempfile.mkdtemp(dir=tmp))
            ours["stored"] = wait_stored(gw, "bench-ours", n, timeout=10)
            peer = run_client(peer_py, PEER, gw, "bench-peer", n, tempfile.mkdtemp(dir=tmp))
            peer["stored"] = wait_stored(gw, "bench-peer", n, timeout=10)
            lat = None
            if not args.no_latency:
                lat = json.loads(subprocess.run(
                    [ours_py, "-c", LATENCY, gw.key, gw.ws_url, "bench-latency", str(n)],
                    capture_output=True, text=True, check=True, timeout=1800,
                    env=client_env(tmp, gw)).stdout.strip().splitlines()[-1])
        finally:
            gw.stop()

    for r in (ours, peer):
        r["seconds"] = r["done"] - r["start"]
        r["rate"] = r["stored"] / r["seconds"]
        r["cpu_100k"] = r["cpu"] * 100000.0 / n
    ratio = ours["rate"] / peer["rate"]
    cpu_share = ours["cpu_100k"] / peer["cpu_100k"]
    print("readings per client: %d, one send() each, same local gateway, each client in its "
          "own process (clock from process start to the last reading confirmed stored)" % n)
    for name, r in (("ours", ours), ("plexus-python", peer)):
        print("%-15s : %8.0f stored/s  (%d stored in %.2f s; send loop done at %.2f s; "
              "confirmed %s)  CPU %.2f s per 100k readings (user %.2f, sys %.2f)"
              % (name, r["rate"], r["stored"], r["seconds"], r["sent"] - r["start"],
                 r["confirmed"], r["cpu_100k"], r["user"] * 100000.0 / n,
                 r["sys"] * 100000.0 / n))
    for name, r in (("ours", ours), ("plexus-python", peer)):
        if r["gateway_cpu"] is not None:
            print("gateway CPU while %s ran: %.2f s per 100k readings"
                  % (name, r["gateway_cpu"] * 100000.0 / n))
    print("rate-limited frames (plexus-python): %s" % peer.get("rate_limited_frames"))
    print("ratio           : %8.1fx  stored/s (target >= 20x)" % ratio)
    print("CPU per reading : %8.3f  of plexus-python's (1/%.1f; target <= 1/20)"
          % (cpu_share, 1 / cpu_share))
    if lat:
        print("send() latency  : p50 %.1f us, p99 %.1f us (target <= 20), p99.9 %.1f us, "
              "max %.0f us" % (lat["p50_us"], lat["p99_us"], lat["p999_us"], lat["max_us"]))
    result = {"ours_stored_per_s": round(ours["rate"]), "peer_stored_per_s": round(peer["rate"]),
              "ratio": round(ratio, 1), "ours_cpu_s_per_100k": round(ours["cpu_100k"], 3),
              "peer_cpu_s_per_100k": round(peer["cpu_100k"], 3),
              "cpu_fraction": round(cpu_share, 4), "ours_stored": ours["stored"],
              "peer_stored": peer["stored"], "readings": n}
    if lat:
        result.update({"send_p50_us": round(lat["p50_us"], 1), "send_p99_us": round(lat["p99_us"], 1)})
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
