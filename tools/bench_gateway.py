"""Benchmark the local gateway: stored-and-acknowledged points per second over
WebSocket (several devices, up to 32 frames in flight each, as 0.16 clients
do) and over HTTP /ingest, with the ack latency. Every ack means the batch is
committed with synchronous=FULL.

    .venv/bin/python tools/bench_gateway.py [--devices 4] [--frames 200] [--points 500]
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request

import websocket

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from support.gateway import Gateway  # noqa: E402

T0 = 1760000000000


def device(gw, sid, frames, points, lat):
    ws = websocket.create_connection(gw.ws_url + "/ws/device", timeout=60)
    ws.send(json.dumps({"type": "device_auth", "api_key": gw.key, "source_id": sid, "platform": "bench",
                        "agent_version": "0", "protocol": 1, "acks": True}))
    assert json.loads(ws.recv())["type"] == "authenticated"
    body = ",".join('{"class":"metric","metric":"m","value":%d,"timestamp":%d}' % (i, T0 + i)
                    for i in range(points))
    sent = {}
    acked = 0
    seq = 0
    while acked < frames:
        while seq < frames and seq - acked < 32:
            seq += 1
            sent[seq] = time.perf_counter()
            ws.send('{"type":"telemetry","seq":%d,"batch_id":"%s-%d","points":[%s]}' % (seq, sid, seq, body))
        f = json.loads(ws.recv())
        if f.get("type") == "telemetry_ack":
            now = time.perf_counter()
            for s in range(acked + 1, f["seq"] + 1):
                lat.append(now - sent.pop(s))
            acked = f["seq"]
    ws.close()


def bench_ws(gw, devices, frames, points):
    lat = []
    threads = [threading.Thread(target=device, args=(gw, "bench-%d" % d, frames, points, lat))
               for d in range(devices)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    lat.sort()
    return devices * frames * points / dt, dt, lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000


def bench_http(gw, requests, points):
    pts = [{"metric": "m", "value": i, "timestamp": T0 + i} for i in range(points)]
    t0 = time.perf_counter()
    for r in range(requests):
        body = json.dumps({"source_id": "bench-http", "batch_id": "h-%d" % r, "points": pts}).encode()
        req = urllib.request.Request(gw.url + "/ingest", data=body, method="POST",
                                     headers={"x-api-key": gw.key, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert resp.status == 200
    dt = time.perf_counter() - t0
    return requests * points / dt, dt


def bench_raw_sqlite(tmp, batches, points):
    """The floor: the same rows into the gateway's schema, one transaction
    (and fsync) per batch, no network, no JSON parsing."""
    from plexus.gateway import db
    conn = db.connect(os.path.join(tmp, "raw.db"))
    rows = [("raw", "m", "metric", T0 + i, float(i), str(i), None, T0) for i in range(points)]
    t0 = time.perf_counter()
    for _ in range(batches):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO points_indexed (source_id, metric, class, ts, num, value, tags, received_ms) "
                         "VALUES (?,?,?,?,?,?,?,?)", rows)
        conn.execute("COMMIT")
    dt = time.perf_counter() - t0
    conn.close()
    return batches * points / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--frames", type=int, default=1000, help="frames per device")
    ap.add_argument("--points", type=int, default=100, help="points per frame")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gw = Gateway(tmp, rate_limits=False)
        gw.start()
        try:
            rate, dt, p50, p99 = bench_ws(gw, args.devices, args.frames, args.points)
            total = args.devices * args.frames * args.points
            stored = sum(gw.count("bench-%d" % d) for d in range(args.devices))
            print("websocket: %d devices x %d frames x %d points: %.0f points/s stored+acked (%.2f s), "
                  "ack latency p50 %.1f ms p99 %.1f ms; stored %d of %d"
                  % (args.devices, args.frames, args.points, rate, dt, p50, p99, stored, total))
            hrate, hdt = bench_http(gw, 100, args.points)
            print("http /ingest: 100 requests x %d points, one client: %.0f points/s (%.2f s)"
                  % (args.points, hrate, hdt))
        finally:
            gw.stop()
        raw = bench_raw_sqlite(tmp, 200, args.points)
        print("raw SQLite, same schema, one fsync'd transaction per %d-point batch: %.0f points/s "
              "(gateway over WebSocket reaches %.0f%% of it)" % (args.points, raw, 100.0 * rate / raw))
        print("RESULT " + json.dumps({"ws_points_per_s": round(rate), "ack_p50_ms": round(p50, 1),
                                      "ack_p99_ms": round(p99, 1), "http_points_per_s": round(hrate),
                                      "raw_sqlite_points_per_s": round(raw), "stored": stored, "sent": total}))


if __name__ == "__main__":
    main()
