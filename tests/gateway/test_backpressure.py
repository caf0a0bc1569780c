"""A real gateway beyond its capacity: a tiny write-queue limit
(--max-queued-points) and many frames offered at once. The queue stays
bounded (device sockets are paused), /ingest answers 503 with Retry-After,
a warning line says how far behind the gateway is, and no frame is lost:
every acknowledged or 200 batch is stored, and everything is stored in the
end as the clients resend."""

import asyncio
import json
import logging
import re
import threading
import time
import urllib.request

import pytest
import websocket

from plexus import Plexus
from plexus.config import RetryConfig
from support.gateway import Gateway
from support.home import isolated_home  # noqa: F401  (autouse: no real ~/.plexus)
from support.raw import http, wait_for
from support import aio

T0 = 1760000000000
LIMIT = 30            # points: three 10-point frames fill the queue
DEVICES = 6
FRAMES = 150          # per device, 10 points each
WINDOW = 32           # frames in flight per device, as the 0.16 client allows
HTTP_SENDERS = 3
HTTP_BATCHES = 40     # per sender, 20 points each
OUR_READINGS = 300    # from our own client, over HTTP


@pytest.fixture
def tight(tmp_path):
    gw = Gateway(tmp_path / "gateway", rate_limits=False, args=["--max-queued-points", str(LIMIT)])
    gw.start()
    yield gw
    gw.stop()


def metrics(gw):
    with urllib.request.urlopen(gw.url + "/metrics", timeout=60) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+) (\S+)$", text, re.M)}


def frame(sid, seq):
    pts = ",".join('{"metric":"m","value":%d,"timestamp":%d}' % (seq * 10 + i, T0 + seq * 10 + i)
                   for i in range(10))
    return '{"type":"telemetry","seq":%d,"batch_id":"%s-%d","points":[%s]}' % (seq, sid, seq, pts)


def run_device(gw, sid, out):
    """Sends FRAMES frames, at most WINDOW unacknowledged; checks each ack means stored."""
    ws = websocket.create_connection(gw.ws_url + "/ws/device", timeout=120)
    ws.send(json.dumps({"type": "device_auth", "api_key": gw.key, "source_id": sid, "platform": "test",
                        "agent_version": "0", "protocol": 1, "acks": True}))
    assert json.loads(ws.recv())["type"] == "authenticated"
    seq = acked = 0
    stored_when_acked = None
    while acked < FRAMES:
        while seq < FRAMES and seq - acked < WINDOW:
            seq += 1
            ws.send(frame(sid, seq))
        f = json.loads(ws.recv())
        assert f["type"] == "telemetry_ack", f
        acked = f["seq"]
        if stored_when_acked is None and acked >= FRAMES // 2:
            stored_when_acked = (acked, gw.count(sid))
    ws.close()
    out[sid] = stored_when_acked


def run_http(gw, n, out):
    """Posts HTTP_BATCHES batches, resending each one the gateway refused with 503."""
    sid = "http-%d" % n
    refused = []
    for b in range(HTTP_BATCHES):
        pts = [{"metric": "h", "value": b * 20 + i, "timestamp": T0 + b * 20 + i} for i in range(20)]
        while True:
            status, body, headers = http(gw, "POST", "/ingest", {"source_id": sid, "batch_id": "b%d" % b,
                                                                 "points": pts}, key=gw.key)
            if status == 200:
                assert body["count"] == 20
                assert gw.count(sid) >= (b + 1) * 20    # 200 means already stored
                break
            assert status == 503, (status, body)
            refused.append((headers.get("Retry-After"), body["error"]))
    out[sid] = refused


def run_our_client(gw, out):
    """Our client over HTTP: it meets the same 503s and retries them with its backoff."""
    px = Plexus(api_key=gw.key, source_id="ours-http", gateway_url=gw.url, transport="http",
                retry_config=RetryConfig(base_delay=0.1, max_delay=1.0))
    try:
        for i in range(OUR_READINGS):
            px.send("o", i, timestamp=T0 + i)
        # flush_buffer says False while the gateway answers 503 (the readings stay queued); it retries
        out["ours-http"] = wait_for(lambda: px.flush_buffer(5), timeout=240, what="our client delivering")
    finally:
        px.close()


def test_beyond_capacity_the_gateway_pushes_back_and_loses_nothing(tight):
    gw = tight
    t0 = time.monotonic()
    results, refused, peak, health = {}, {}, [0], []
    done = threading.Event()

    def watch_queue():
        while not done.is_set():
            peak[0] = max(peak[0], metrics(gw)["plexus_gateway_queue_points"])
            health.append(http(gw, "GET", "/health")[:2])  # answered without waiting for the store

    threads = [threading.Thread(target=run_device, args=(gw, "dev-%d" % d, results)) for d in range(DEVICES)]
    threads += [threading.Thread(target=run_http, args=(gw, n, refused)) for n in range(HTTP_SENDERS)]
    threads.append(threading.Thread(target=run_our_client, args=(gw, results)))
    watcher = threading.Thread(target=watch_queue)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    done.set()
    watcher.join(60)
    assert not any(t.is_alive() for t in threads)

    # nothing lost, nothing stored twice
    for d in range(DEVICES):
        sid = "dev-%d" % d
        acked, stored = results[sid]
        assert stored >= acked * 10, "acknowledged frames must already be stored"
        assert gw.count(sid) == FRAMES * 10
    for n in range(HTTP_SENDERS):
        assert gw.count("http-%d" % n) == HTTP_BATCHES * 20
    assert results["ours-http"] is True and gw.count("ours-http") == OUR_READINGS

    # /ingest was refused while the queue was full, with a Retry-After in whole seconds
    answers = [r for n in range(HTTP_SENDERS) for r in refused["http-%d" % n]]
    assert answers, "no /ingest request met a full queue"
    for retry_after, error in answers:
        assert retry_after is not None and int(retry_after) >= 1
        assert "behind" in error and "retry after" in error

    assert health and all(h[0] == 200 and h[1]["status"] == "ok" for h in health)

    m = metrics(gw)
    # the queue stayed bounded: at most one batch past the limit per connection (ours may send all its
    # readings at once), well below what the devices had in flight, so their sockets were not read
    bound = LIMIT + DEVICES * 10 + HTTP_SENDERS * 20 + OUR_READINGS
    assert bound < DEVICES * WINDOW * 10
    assert 0 < peak[0] <= bound
    assert m["plexus_gateway_queue_full_total"] >= 1
    assert m["plexus_gateway_ingest_503_total"] >= len(answers)   # and those our client met
    assert m["plexus_gateway_points_stored_total"] == \
        DEVICES * FRAMES * 10 + HTTP_SENDERS * HTTP_BATCHES * 20 + OUR_READINGS
    assert m["plexus_gateway_acks_sent_total"] == DEVICES * FRAMES

    # and the operator was told, in one line with the numbers
    line = wait_for(lambda: re.search(r"WARNING gateway is behind: \d+ points in \d+ batches queued for the "
                                      r"store \(limit %d\), oldest waiting [\d.]+ s" % LIMIT, gw.log()),
                    what="the behind warning")
    assert line
    minutes = (time.monotonic() - t0) / 60
    assert len(re.findall("gateway is behind", gw.log())) <= 1 + minutes  # once a minute, not once per frame


def test_the_behind_warning_comes_once_a_minute_and_then_says_caught_up(monkeypatch, caplog):
    from plexus.gateway import backpressure
    clock = [1000.0]
    fake_time = type("FakeTime", (), {"monotonic": staticmethod(lambda: clock[0])})
    monkeypatch.setattr(backpressure, "time", fake_time)  # the queue's clock only: minutes pass in no time

    async def scenario():
        q = backpressure.Intake(max_points=10)
        fut = asyncio.get_running_loop().create_future()
        q.track(fut, 10)                       # full
        assert q.full
        for _ in range(150):                   # 150 s behind: a warning at 0, 60 and 120 s
            q.check()
            clock[0] += 1
        waiter = asyncio.ensure_future(q.room())
        await asyncio.sleep(0)
        assert q.paused_reads == 1 and not waiter.done()
        fut.set_result(10)                     # committed: room again, the paused reader goes on
        await asyncio.wait_for(waiter, 10)
        assert q.points == 0 and q.points_stored == 10 and not q.full
        for _ in range(12):                    # 12 s without being behind: caught up
            q.check()
            clock[0] += 1

    with caplog.at_level(logging.INFO, logger="plexus.gateway"):
        aio.run(scenario())
    lines = [r.getMessage() for r in caplog.records]
    behind = [m for m in lines if m.startswith("gateway is behind")]
    assert len(behind) == 3
    assert "10 points in 1 batches queued for the store (limit 10), oldest waiting 0.0 s" in behind[0]
    assert "oldest waiting 120.0 s" in behind[2]
    assert lines[-1] == "gateway caught up: 0 points queued for the store"
