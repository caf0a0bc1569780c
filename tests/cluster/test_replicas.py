"""Gateway replicas on one PostgreSQL database, behind a real HAProxy:
commands reach a device held by another replica, viewers see readings sent
through any replica, a source reconnecting elsewhere closes its old socket,
and a SIGKILLed replica loses nothing and its presence expires."""

import json
import threading
import time
from collections import Counter

import pytest
import websocket

from plexus import Plexus
from support.balancer import Balancer
from support.gateway import Gateway
from support.postgres import query
from support.raw import device, http, ingest, next_of, recv
from support.waiting import wait_for


@pytest.fixture
def replicas(postgres, tmp_path):
    """Three replicas on one fresh database, sharing the first one's key."""
    url = postgres.new_database()
    gws = []
    try:
        for i in range(3):
            gw = Gateway(tmp_path / ("r%d" % i), store_url=url, rate_limits=False)
            if gws:
                gw.key = gws[0].key
            gws.append(gw.start())
        yield gws
    finally:
        for gw in gws:
            gw.kill()


@pytest.fixture
def balancer(replicas, haproxy_bin, tmp_path):
    lb = Balancer(tmp_path / "haproxy", replicas).start()
    yield lb
    lb.stop()


def online_on(gw, sid):
    status, body, _ = http(gw, "GET", "/v1/sources/" + sid, key=gw.key)
    return status == 200 and body["online"]


MANIFEST = [{"name": "blink", "params": {}, "idempotent": False, "expires_in_s": 120}]


def test_a_command_through_a_replica_that_does_not_hold_the_device_is_delivered(replicas):
    a, b, _ = replicas
    ws, reply = device(a, "valve-1", commands=MANIFEST)
    assert reply["type"] == "authenticated"
    wait_for(lambda: online_on(b, "valve-1"), what="B to learn that A holds valve-1")

    status, run, _ = http(b, "POST", "/v1/sources/valve-1/runs", {"command": "blink", "params": {"n": 3}},
                          key=b.key)
    assert status == 201 and run["state"] == "queued"
    f = next_of(ws, "command_run")
    assert f["run_id"] == run["run_id"] and f["params"] == {"n": 3} and f["attempt"] == 1
    assert f["ttl_ms"] > 60000                     # the manifest's expires_in_s, read through B
    ws.send(json.dumps({"type": "command_status", "run_id": f["run_id"], "seq": 1, "state": "succeeded",
                        "result": {"ok": True}}))
    assert next_of(ws, "command_status_ack")["seq"] == 1
    got = wait_for(lambda: (lambda r: r if r["state"] == "succeeded" else None)(
        http(b, "GET", "/v1/sources/valve-1/runs/" + run["run_id"], key=b.key)[1]), what="run succeeded")
    assert got["result"] == {"ok": True} and got["attempt"] == 1

    status, body, _ = http(b, "POST", "/v1/sources/valve-1/commands", {"command": "blink"}, key=b.key)
    assert status == 200 and body["queued"] is True
    assert next_of(ws, "typed_command")["id"] == body["id"]
    # a run queued through B while a known device is away goes out when it connects through A
    assert http(a, "POST", "/ingest", {"source_id": "valve-2", "points": [{"metric": "t", "value": 1}]},
                key=a.key)[0] == 200
    status, later, _ = http(b, "POST", "/v1/sources/valve-2/runs", {"command": "blink"}, key=b.key)
    assert status == 201 and later["state"] == "queued"
    ws2, _ = device(a, "valve-2", commands=MANIFEST)
    f2 = next_of(ws2, "command_run")
    assert f2["run_id"] == later["run_id"] and f2["attempt"] == 1
    ws2.close()
    # a source no replica holds is not queued, as on one gateway (and as the hosted API answers)
    assert http(b, "POST", "/v1/sources/nobody/commands", {"command": "blink"}, key=b.key)[:2] == (
        200, {"queued": False})
    ws.close()


def test_a_viewer_on_one_replica_sees_readings_sent_through_another(replicas):
    a, b, _ = replicas
    viewer = websocket.create_connection(b.ws_url + "/v1/sources/pump-07/metrics/stream", timeout=60)
    viewer.send(json.dumps({"type": "auth", "api_key": b.key}))
    viewer.settimeout(0.5)
    while True:  # the stream starts once B has announced what it watches; offer data until it shows
        assert ingest(a, [{"metric": "warmup", "value": 0}], source_id="pump-07")[0] == 200
        try:
            next_of(viewer, "telemetry")
            break
        except websocket.WebSocketTimeoutException:
            continue
    viewer.settimeout(30)
    ws, _ = device(a, "pump-07")
    t0 = time.monotonic()
    ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [{"metric": "temp", "value": 21.5}]}))
    while True:
        f = next_of(viewer, "telemetry")
        if any(p["metric"] == "temp" for p in f["points"]):
            break
    latency = time.monotonic() - t0
    print("viewer on B saw a reading sent through A after %.3f s" % latency)
    assert f["points"][0]["value"] == 21.5 and f["points"][0]["source_id"] == "pump-07"
    ws.close()
    viewer.close()


def test_a_source_reconnecting_through_another_replica_closes_its_older_socket(replicas):
    a, b, _ = replicas
    old, _ = device(a, "drift-1")
    wait_for(lambda: online_on(b, "drift-1"), what="presence of drift-1 on A")
    new, reply = device(b, "drift-1")
    assert reply["type"] == "authenticated"
    assert recv(old)["type"] == "close"             # A closed its older socket of drift-1
    new.send(json.dumps({"type": "telemetry", "seq": 1, "points": [{"metric": "x", "value": 1}]}))
    assert next_of(new, "telemetry_ack")["seq"] == 1
    new.close()


def holder(gw, sid):
    rows = query(gw.store_url, "SELECT replica_id FROM presence WHERE source_id=$1", sid)
    return rows[0][0] if rows else None


def test_a_sigkilled_replica_loses_nothing_and_its_presence_expires(replicas, balancer):
    a = replicas[0]
    px = Plexus(api_key=balancer.key, source_id="survivor", ws_url=balancer.ws_url, timeout=10)
    n = 3000
    done = threading.Event()

    def send():
        for i in range(n):
            px.send("seq", i)
            if i % 100 == 0:
                time.sleep(0.01)  # paces the sender so the kill lands mid-stream
        done.set()
    t = threading.Thread(target=send)
    try:
        t.start()
        wait_for(lambda: a.count("survivor") >= 300, what="streaming under way")
        rid = wait_for(lambda: holder(a, "survivor"), what="presence recorded")
        pid = int(rid.rsplit("-", 2)[-2])
        victim = next(gw for gw in replicas if gw.proc.pid == pid)
        victim.kill()                                 # SIGKILL: no goodbye
        others = [gw for gw in replicas if gw is not victim]
        wait_for(lambda: query(a.store_url, "SELECT count(*) FROM presence WHERE replica_id=$1", rid)[0][0] == 0,
                 timeout=30, what="the killed replica's presence to expire")
        done.wait(120)
        t.join(120)
        wait_for(lambda: px.buffer_size() == 0, timeout=120, what="everything delivered through the others")
        got = Counter(int(r[0]) for r in query(others[0].store_url, "SELECT num FROM points "
                                                                    "WHERE source_id='survivor'"))
        assert sorted(got) == list(range(n)) and max(got.values()) == 1   # none lost, none twice
        new_holder = wait_for(lambda: holder(others[0], "survivor"), what="the device held by another replica")
        assert new_holder != rid
        assert online_on(others[1], "survivor")
        # HTTP through the balancer goes on too: ingest and the Data API, whichever replica answers
        for i in range(4):
            assert ingest(balancer, [{"metric": "h", "value": i}], source_id="http-1", batch_id="h%d" % i)[0] == 200
        assert wait_for(lambda: online_on(balancer, "survivor"), what="online through the balancer")
        assert others[0].count("http-1") == 4
    finally:
        px.close()


def test_a_video_viewer_on_one_replica_sees_frames_sent_through_another(replicas):
    import base64
    a, b, _ = replicas
    viewer = websocket.create_connection(b.ws_url + "/v1/sources/cam-1/video/stream?camera_id=front", timeout=60)
    viewer.send(json.dumps({"type": "auth", "api_key": b.key}))
    assert next_of(viewer, "init")["type"] == "init"
    ws, _ = device(a, "cam-1")
    jpeg = base64.b64encode(b"\xff\xd8" + bytes(range(256)) * 80 + b"\xff\xd9").decode()  # bigger than one NOTIFY
    viewer.settimeout(0.5)
    while True:  # B announces what it watches within a moment; offer frames until one shows
        ws.send(json.dumps({"type": "video_frame", "camera_id": "front", "frame": jpeg, "width": 4, "height": 3,
                            "timestamp": 1764000000000}))
        try:
            f = next_of(viewer, "video_frame")
            break
        except websocket.WebSocketTimeoutException:
            continue
    assert f["source_id"] == "cam-1" and f["camera_id"] == "front" and f["frame"] == jpeg
    ws.close()
    viewer.close()


def test_replicas_find_each_other_again_after_a_postgres_restart(tmp_path):
    from support.postgres import PostgresServer
    srv = PostgresServer().start()          # a server of its own: this test restarts it
    gws = []
    try:
        url = srv.new_database()
        for i in range(2):
            gw = Gateway(tmp_path / ("r%d" % i), store_url=url, rate_limits=False)
            if gws:
                gw.key = gws[0].key
            gws.append(gw.start())
        a, b = gws
        ws, _ = device(a, "valve-9", commands=MANIFEST)
        wait_for(lambda: online_on(b, "valve-9"), what="presence before the restart")
        srv.restart()
        # once both are back, B still knows A holds the device, and a run through B reaches it
        status, run = wait_for(lambda: (lambda r: r[:2] if r[0] == 201 else None)(
            http(b, "POST", "/v1/sources/valve-9/runs", {"command": "blink"}, key=b.key)), timeout=60,
            what="B to accept runs again")
        assert next_of(ws, "command_run")["run_id"] == run["run_id"]
        ws.close()
    finally:
        for gw in gws:
            gw.kill()
        srv.destroy()
