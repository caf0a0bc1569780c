"""The SQLite store's writer alone, as its database grows: CPU and bytes
written per 10-point frame, for groups of frames from distinct sources (a
fleet at one frame a second per device, committed as the gateway does).

    .venv/bin/python tools/bench_writer.py [--sources 5000] [--frames 600000] [--group 1000]

The gateway's own write path runs in this process (db.connect, the writer
process's checkpoint setting, db.commit_group of points.insert_batch jobs),
without the pipe or the event loop. The same run is repeated with the
per-metric points index dropped, to show what that index costs: each frame
adds one entry to each of its metrics' runs, and once a run is longer than a
page, every point of a frame lands on a page of its own.

Bytes written are the process's write_bytes (/proc/self/io: the WAL and the
checkpoints into the database); "n/a" where the system has no such file.
"""

import argparse
import json
import os
import resource
import tempfile
import time

from plexus.gateway import db, writer_process
from plexus.gateway.sqlite import points

POINTS = 10


def _cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _written():
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run(path, sources, frames, group, reports, with_index):
    conn = db.connect(path)
    conn.execute("PRAGMA wal_autocheckpoint=%d" % writer_process.CHECKPOINT_PAGES)
    if not with_index:
        conn.execute("DROP INDEX points_by_metric")
    label = "per-metric index" if with_index else "no per-metric index"
    every = max(group, frames // reports // group * group)
    cpu0, io0, done, seq, last = _cpu_s(), _written(), 0, 0, None
    while done < frames:
        ts = int(time.time() * 1000)
        jobs = []
        for k in range(group):
            sid = "dev-%05d" % ((seq + k) % sources)
            pts = [{"class": "metric", "metric": "m%d" % i, "value": seq + 0.5, "timestamp": ts}
                   for i in range(POINTS)]
            jobs.append((k + 1, points.insert_batch, (sid, "%s-%d" % (sid, seq + k), pts, ts)))
        seq += group
        if points.move_due():
            jobs.append((0, points.move_rows, ()))  # as the writer process adds it to a group
        db.commit_group(conn, jobs)
        done += group
        if done % every == 0 or done >= frames:
            cpu1, io1 = _cpu_s(), _written()
            n = done - (last["frames"] if last else 0)
            size = sum(os.path.getsize(path + ext) for ext in ("", "-wal") if os.path.exists(path + ext))
            last = {"frames": done, "rows": done * POINTS, "cpu_ms": (cpu1 - cpu0) / n * 1000,
                    "kib": None if io0 is None else (io1 - io0) / n / 1024}
            print("%-20s %9.1fM %11.3f ms %12s %9d MB" % (
                label, last["rows"] / 1e6, last["cpu_ms"],
                "n/a" if last["kib"] is None else "%.1f KiB" % last["kib"], size // 1000000), flush=True)
            cpu0, io0 = cpu1, io1
    conn.close()
    return last


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", type=int, default=5000)
    ap.add_argument("--frames", type=int, default=600000, help="frames per run (10 points each)")
    ap.add_argument("--group", type=int, default=1000, help="frames per commit")
    ap.add_argument("--reports", type=int, default=6, help="report lines per run")
    args = ap.parse_args()
    print("%d sources, groups of %d frames of %d points, %d frames a run" % (
        args.sources, args.group, POINTS, args.frames))
    print("%-20s %10s %14s %12s %12s" % ("points table", "rows", "CPU/frame", "written/frame", "db + WAL"))
    ends = {}
    with tempfile.TemporaryDirectory() as tmp:
        for with_index in (True, False):
            ends[with_index] = run(os.path.join(tmp, "index-%s.db" % with_index), args.sources, args.frames,
                                   args.group, args.reports, with_index)
    print("RESULT " + json.dumps({
        "cpu_ms_per_frame": round(ends[True]["cpu_ms"], 3),
        "kib_written_per_frame": ends[True]["kib"] and round(ends[True]["kib"], 1),
        "no_index_cpu_ms_per_frame": round(ends[False]["cpu_ms"], 3),
        "no_index_kib_written_per_frame": ends[False]["kib"] and round(ends[False]["kib"], 1)}))


if __name__ == "__main__":
    main()
