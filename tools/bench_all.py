"""Run every benchmark in the repo and print one table.

    .venv/bin/python tools/bench_all.py [--quick] [--only NAME ...]

Each benchmark prints its own report (shown as it runs) and a last line
`RESULT {json}`; the table at the end is made from those lines. `--quick`
runs smaller workloads (for a smoke check, not for quoting).
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# name, arguments, quick arguments, [(what, RESULT key, unit, target)]
BENCHES = [
    ("client", ["bench_client.py"], ["bench_client.py", "--n", "5000"], [
        ("client: readings stored/s, one send() each", "ours_stored_per_s", "/s", ""),
        ("plexus-python 0.16.0, same run", "peer_stored_per_s", "/s", ""),
        ("client vs plexus-python", "ratio", "x", ">= 20x"),
        ("client CPU per 100,000 readings", "ours_cpu_s_per_100k", "s", ""),
        ("plexus-python 0.16.0 CPU, same run", "peer_cpu_s_per_100k", "s", ""),
        ("client CPU vs plexus-python", "cpu_fraction", "x", "<= 0.05x"),
        ("send() latency p50", "send_p50_us", "us", ""),
        ("send() latency p99", "send_p99_us", "us", "<= 20 us")]),
    ("backlog", ["bench_backlog.py"], ["bench_backlog.py", "--minutes", "1"], [
        ("backlog drain, 10 min outage at 100/s", "drain_s", "s", "<= 2 s")]),
    ("gateway", ["bench_gateway.py"], ["bench_gateway.py", "--frames", "200"], [
        ("gateway ingest, WebSocket, 4 devices x 100-point frames", "ws_points_per_s", "/s", ">= 100,000 /s"),
        ("raw SQLite, same rows, fsync per batch", "raw_sqlite_points_per_s", "/s", "gateway >= 0.5x"),
        ("gateway ingest, HTTP, one client", "http_points_per_s", "/s", ""),
        ("gateway ack latency p99 (32 frames in flight)", "ack_p99_ms", "ms", "")]),
    ("board", ["bench_board.py"], ["bench_board.py"], [
        ("board: smallest heap, standard workload", "min_heap_kib", "KiB", "<= 48 KiB"),
        ("board: flash log readings/s", "flash_readings_per_s", "/s", ""),
        ("board: write amplification", "write_amplification", "x", "<= 1.2x"),
        ("naive append-and-flush log, same run", "naive_write_amplification", "x", "")]),
    ("commands", ["bench_commands.py"], ["bench_commands.py", "--runs", "30", "--burst", "60"], [
        ("command v1 round trip p50", "v1_p50_ms", "ms", ""),
        ("command burst", "burst_runs_per_s", "runs/s", ""),
        ("board: command modules imported", "board_imported_kib", "KiB", "")]),
    ("deploy", ["bench_deploy.py"], ["bench_deploy.py"], []),
    ("writer", ["bench_writer.py"], ["bench_writer.py", "--frames", "20000", "--reports", "2"], [
        ("SQLite writer CPU per 10-point frame, at 6M rows", "cpu_ms_per_frame", "ms", ""),
        ("bytes written per frame, same run", "kib_written_per_frame", "KiB", ""),
        ("CPU per frame without the per-metric index", "no_index_cpu_ms_per_frame", "ms", ""),
        ("bytes written per frame without it", "no_index_kib_written_per_frame", "KiB", "")]),
    ("dashboard", ["bench_dashboard.py"], ["bench_dashboard.py", "--seconds", "5"], [
        ("dashboard: readings drawn/s (20 metrics x 50 Hz)", "readings_on_page_per_s", "/s", ""),
        ("dashboard: frames/s", "fps", "/s", ""),
        ("dashboard: worst event-loop lag", "lag_max_ms", "ms", ""),
        ("dashboard: draw 30 d of 1-min buckets x 10 metrics", "buckets_first_draw_ms", "ms", "")]),
]


def run(name, argv):
    print("\n=== %s: %s" % (name, " ".join(argv)), flush=True)
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable] + [os.path.join(HERE, argv[0])] + argv[1:], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    result = None
    for line in p.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
        else:
            sys.stdout.write(line)
    p.wait()
    print("(%.0f s, exit %d)" % (time.monotonic() - t0, p.returncode), flush=True)
    return result if p.returncode == 0 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", help="benchmark names: " + ", ".join(b[0] for b in BENCHES))
    args = ap.parse_args()
    rows = []
    for name, full, quick, keys in BENCHES:
        if args.only and name not in args.only:
            continue
        res = run(name, quick if args.quick else full)
        if res is None:
            rows.append((name + ": FAILED (see above)", "", ""))
            continue
        if not keys:
            keys = [("%s: %s" % (name, k), k, "", "") for k in res]
        for what, key, unit, target in keys:
            v = res.get(key)
            shown = "-" if v is None else ("%s %s" % (format(v, ",") if isinstance(v, (int, float)) else v, unit))
            rows.append((what, shown.strip(), target))
    width = max(len(r[0]) for r in rows)
    print("\n%-*s  %-22s %s" % (width, "benchmark" + (" (quick)" if args.quick else ""), "measured", "target"))
    print("-" * (width + 34))
    for what, shown, target in rows:
        print(("%-*s  %-22s %s" % (width, what, shown, target)).rstrip())


if __name__ == "__main__":
    main()
