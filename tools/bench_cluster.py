"""Benchmark the gateway on PostgreSQL: points/s stored and acknowledged with
SQLite (one process) and with PostgreSQL behind 1, 2 and 3 replicas, the CPU
seconds each replica and PostgreSQL spend per million points, and Data API
/query latency over one day of a large table.

    .venv/bin/python tools/bench_cluster.py [--devices 6] [--frames 300] [--points 100]
                                            [--query-points 10000000] [--only-query]

For /query at 100 million points (tens of GB, loaded straight with SQL in
transactions of 5 million rows, then dropped):

    nice -n 10 .venv/bin/python tools/bench_cluster.py --only-query --query-points 100000000

Devices are spread round-robin over the replicas (each one's socket is held
by one replica, as behind a balancer). PostgreSQL runs with fsync on and
synchronous_commit on, so an ack means the batch is on disk. Everything runs
on this machine: on a shared 2-core machine the replicas, PostgreSQL and the
load generator compete for the same cores, so read the CPU figures, not only
the rates.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)
import asyncpg  # noqa: E402
from bench_gateway import device  # noqa: E402
from plexus.gateway.pg import schema  # noqa: E402
from support.gateway import Gateway  # noqa: E402
from support.postgres import PostgresServer, query  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid, children=False):
    """CPU seconds of a process (with its exited children's when asked)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t / TICK


def postgres_cpu(postmaster):
    """The server's CPU: the postmaster, its live backends, and those that exited."""
    total = cpu_s(postmaster, children=True)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == postmaster:
                total += cpu_s(int(d))
    return total


def run_load(gws, devices, frames, points, tag):
    """Points/s stored and acknowledged (the load generator's own CPU seconds go to LOAD_CPU)."""
    lat = []
    threads = [threading.Thread(target=device, args=(gws[d % len(gws)], "%s-%d" % (tag, d), frames, points, lat))
               for d in range(devices)]
    t0, c0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    LOAD_CPU[tag] = time.process_time() - c0
    return devices * frames * points / (time.perf_counter() - t0)


LOAD_CPU = {}


def bench_sqlite(tmp, args):
    gw = Gateway(os.path.join(tmp, "sqlite"), rate_limits=False, store="sqlite").start()
    try:
        c0 = cpu_s(gw.proc.pid)
        rate = run_load([gw], args.devices, args.frames, args.points, "sq")
        cpu = cpu_s(gw.proc.pid) - c0
    finally:
        gw.stop()
    return rate, cpu


def bench_replicas(srv, tmp, n, args):
    url = srv.new_database()
    gws = []
    try:
        for i in range(n):
            gw = Gateway(os.path.join(tmp, "pg%d-%d" % (n, i)), store_url=url, rate_limits=False)
            if gws:
                gw.key = gws[0].key
            gws.append(gw.start())
        # warm up: partitions created, pools filled
        run_load(gws, len(gws), 5, args.points, "warm")
        c0 = [cpu_s(g.proc.pid) for g in gws]
        p0 = postgres_cpu(srv.postmaster())
        rate = run_load(gws, args.devices, args.frames, args.points, "pg")
        cpus = [cpu_s(g.proc.pid) - c for g, c in zip(gws, c0)]
        pcpu = postgres_cpu(srv.postmaster()) - p0
        stored = query(url, "SELECT count(*) FROM points WHERE source_id LIKE 'pg-%'")[0][0]
        assert stored == args.devices * args.frames * args.points, stored
    finally:
        for g in gws:
            g.stop()
    return rate, cpus, pcpu


LOAD_CHUNK = 5 * 10 ** 6  # rows per transaction when loading the /query table


def load_query_table(url, total, sources, start, now, chunk=LOAD_CHUNK):
    """`total` points over [start, now] straight from SQL, in chunks of one
    transaction each (sources x 2 metrics, each series evenly spaced in
    time; row i is source i % sources). The points indexes are dropped for
    the load and built again after it with the schema's own definitions, as
    a restore does; then VACUUM ANALYZE, as autovacuum leaves a table it has
    caught up on (index-only scans need it)."""
    day = 86400000
    step = max(1, ((now - start) * sources * 2) // total)

    async def load():
        c = await asyncpg.connect(url, command_timeout=None)
        try:
            # WAL segments kept between checkpoints: fewer full-page images while loading
            await c.execute("ALTER SYSTEM SET max_wal_size = '8GB'")
            await c.execute("SELECT pg_reload_conf()")
            for d in range(start // day, now // day + 1):
                await schema.ensure_partition(c, d)
            indexes = await c.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'points'")
            for name, _ in indexes:
                await c.execute("DROP INDEX %s" % name)
            await c.execute("INSERT INTO sources (source_id, last_seen_ms) SELECT 'q-' || s, $1::bigint "
                            "FROM generate_series(0, %d) s ON CONFLICT DO NOTHING" % (sources - 1), now)
            await c.execute("INSERT INTO metric_names SELECT 'q-' || s, m FROM generate_series(0, %d) s, "
                            "unnest(ARRAY['temp','rpm']) m ON CONFLICT DO NOTHING" % (sources - 1))
            t0 = time.perf_counter()
            for lo in range(0, total, chunk):
                await c.execute(
                    "INSERT INTO points (source_id, metric, class, ts, num, value, received_ms) "
                    "SELECT 'q-' || (i %% %d), CASE WHEN (i / %d) %% 2 = 0 THEN 'temp' ELSE 'rpm' END, "
                    "'metric', $1::bigint + (i / %d) * $2::bigint, i %% 1000, (i %% 1000)::text, $1::bigint "
                    "FROM generate_series($3::bigint, $4::bigint - 1) AS i" % (sources, sources, sources * 2),
                    start, step, lo, min(total, lo + chunk))
                done = min(total, lo + chunk)
                print("  loaded %d of %d points (%.0f/s)" % (done, total, done / (time.perf_counter() - t0)),
                      file=sys.stderr, flush=True)
            await c.execute("SET maintenance_work_mem = '1GB'")
            for _, definition in indexes:  # a partitioned index is listed "ON ONLY points": build it on all
                await c.execute(definition.replace(" ON ONLY ", " ON ", 1))
            print("  indexes built after %.0f s" % (time.perf_counter() - t0), file=sys.stderr, flush=True)
            for table in await c.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                       "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'points'"):
                await c.execute("VACUUM ANALYZE %s" % table[0])
            await c.execute("ALTER SYSTEM RESET max_wal_size")
            await c.execute("SELECT pg_reload_conf()")
            await c.execute("CHECKPOINT")
        finally:
            await c.close()
    asyncio.run(load())


QUERIES = (("1 day, auto (10 min buckets)", "last=1d"),
           ("1 day, raw (first 10,000 rows)", "last=1d&interval=raw"),
           ("1 hour, raw", "last=1h&interval=raw"))


def bench_query(srv, tmp, total, sources=50, requests=40):
    """`total` points over the last day (sources x 2 metrics), then /query latencies for one source."""
    url = srv.new_database()
    gw = Gateway(os.path.join(tmp, "query"), store_url=url, rate_limits=False).start()
    try:
        now = int(time.time() * 1000)
        assert urllib.request.urlopen(gw.url + "/health").status == 200  # the schema is in place
        t0 = time.perf_counter()
        load_query_table(url, total, sources, now - 86400000, now)
        load_s = time.perf_counter() - t0
        size = query(url, "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_inherits i "
                          "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
                          "WHERE p.relname = 'points'")[0][0]
        out = {}
        for name, qs in QUERIES:
            lat = []
            for i in range(requests):
                req = urllib.request.Request(gw.url + "/v1/sources/q-%d/metrics/query?metrics=temp&%s"
                                             % (i % sources, qs), headers={"x-api-key": gw.key})
                t = time.perf_counter()
                with urllib.request.urlopen(req, timeout=300) as r:
                    r.read()
                lat.append(time.perf_counter() - t)
            lat.sort()
            out[name] = (lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000)
        return load_s, size, out
    finally:
        gw.stop()
        srv.sql("DROP DATABASE %s" % url.rsplit("/", 1)[1])  # tens of GB at 100M points


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=6)
    ap.add_argument("--frames", type=int, default=300, help="frames per device")
    ap.add_argument("--points", type=int, default=100, help="points per frame")
    ap.add_argument("--replicas", default="1,2,3")
    ap.add_argument("--query-points", type=int, default=10 ** 7)
    ap.add_argument("--only-query", action="store_true", help="skip the ingest runs")
    args = ap.parse_args()
    result = {}
    srv = PostgresServer(durable=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.only_query:
                args.replicas = ""
            rate, cpu = bench_sqlite(tmp, args) if not args.only_query else (0, 0)
            mp = args.devices * args.frames * args.points / 1e6
            if not args.only_query:
                print("SQLite, one process: %.0f points/s stored+acked; gateway CPU %.1f s per million points"
                      % (rate, cpu / mp))
                result["sqlite"] = {"points_per_s": round(rate), "cpu_s_per_mpoint": round(cpu / mp, 2)}
            for n in [int(x) for x in args.replicas.split(",") if x]:
                rate, cpus, pcpu = bench_replicas(srv, tmp, n, args)
                print("PostgreSQL, %d replica(s): %.0f points/s stored+acked; CPU s per million points: "
                      "replicas %s, PostgreSQL %.1f, load generator %.1f"
                      % (n, rate, " ".join("%.1f" % (c / mp) for c in cpus), pcpu / mp, LOAD_CPU["pg"] / mp))
                result["pg_%d" % n] = {"points_per_s": round(rate), "replica_cpu_s_per_mpoint":
                                       [round(c / mp, 2) for c in cpus], "postgres_cpu_s_per_mpoint":
                                       round(pcpu / mp, 2), "load_cpu_s_per_mpoint": round(LOAD_CPU["pg"] / mp, 2)}
            if args.query_points:
                load_s, size, lat = bench_query(srv, tmp, args.query_points)
                print("/query over %d stored points (50 sources x 2 metrics, one day; %s on disk; loaded in "
                      "%.0f s):" % (args.query_points, size, load_s))
                for name, (p50, p99) in lat.items():
                    print("  %-32s p50 %.1f ms  p99 %.1f ms" % (name, p50, p99))
                result["query"] = {"points": args.query_points, "size": size, **{k: [round(a, 1), round(b, 1)]
                                                                   for k, (a, b) in lat.items()}}
    finally:
        srv.destroy()
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
