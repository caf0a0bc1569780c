"""The Data API and live streams (docs/protocol.md §8) on the real gateway, and
what each key scope may read."""

import json
import time

import websocket

from support.raw import http, ingest, next_of, recv



def get(gw, path, key=None):
    status, body, _ = http(gw, "GET", path, key=gw.key if key is None else key)
    return status, body


def seed(gw):
    """Readings relative to now (module import time could be minutes earlier in a long run)."""
    NOW = int(time.time() * 1000)
    pts = [{"metric": "temp", "value": 20.0 + i, "timestamp": NOW - 120000 + i * 1000} for i in range(60)]
    pts += [{"metric": "rpm", "value": 1000 + i, "timestamp": NOW - 60000 + i} for i in range(10)]
    pts += [{"metric": "log", "value": {"level": "error", "msg": "m%d" % i}, "timestamp": NOW - 5000 + i}
            for i in range(5)]
    pts.append({"metric": "state", "value": "RUN", "timestamp": NOW - 100, "tags": {"line": "B"}})
    assert ingest(gw, pts, source_id="pump-07")[0] == 200
    assert ingest(gw, [{"metric": "temp", "value": 5, "timestamp": NOW - 1000}], source_id="pump-08")[0] == 200
    return NOW


def test_sources_metrics_and_latest(gateway):
    NOW = seed(gateway)
    status, body = get(gateway, "/v1/sources")
    assert status == 200
    ids = {d["source_id"]: d for d in body["devices"]}
    assert set(ids) == {"pump-07", "pump-08"} and ids["pump-07"]["online"] is True
    assert ids["pump-07"]["last_seen_ms"] >= NOW
    assert get(gateway, "/v1/sources?status=offline")[1] == {"devices": []}
    assert get(gateway, "/v1/sources/pump-07/metrics")[1] == ["rpm", "temp"]
    assert get(gateway, "/v1/sources/pump-07/metrics/latest")[1] == {"metrics": {"temp": 79.0, "rpm": 1009}}
    status, info = get(gateway, "/v1/sources/pump-07")
    assert status == 200 and info["source_id"] == "pump-07" and info["online"] is True
    assert get(gateway, "/v1/sources/never-seen")[0] == 404
    assert get(gateway, "/v1/fleet/health")[1] == {"sources_total": 2, "sources_online": 2}


def test_query_raw_and_aggregated(gateway):
    NOW = seed(gateway)
    status, q = get(gateway, "/v1/sources/pump-07/metrics/query?metrics=temp&last=5m")
    assert status == 200 and q["interval"] == "raw" and q["auto_downsampled"] is False
    assert q["series"]["temp"]["value"] == [20.0 + i for i in range(60)] and q["truncated"] is False
    assert set(q["series"]) == {"temp"}
    status, q = get(gateway, "/v1/sources/pump-07/metrics/query?last=1h&interval=1m")
    s = q["series"]["temp"]
    assert q["interval"] == "1m" and sum(s["count"]) == 60 and min(s["min"]) == 20.0 and max(s["max"]) == 79.0
    _, q = get(gateway, "/v1/sources/pump-07/metrics/query?last=1d")     # auto: 10m buckets
    assert q["interval"] == "10m" and q["auto_downsampled"] is True
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW / 1000 - 600))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW / 1000 + 600))
    _, q = get(gateway, "/v1/sources/pump-07/metrics/query?metrics=rpm&interval=raw&start=%s&end=%s" % (start, end))
    assert q["series"]["rpm"]["value"] == list(range(1000, 1010))


def test_query_parameter_errors_are_400(gateway):
    for qs in ("last=5x", "last=0h", "interval=2m", "start=2026-01-01T00:00:00Z", "start=yesterday&end=today"):
        status, body = get(gateway, "/v1/sources/pump-07/metrics/query?" + qs)
        assert status == 400 and body["error"], qs


def test_events_with_name_limit_and_tail(gateway):
    NOW = seed(gateway)
    status, ev = get(gateway, "/v1/sources/pump-07/events?last=1h")
    assert status == 200 and [e["metric"] for e in ev] == ["log"] * 5 + ["state"]
    assert ev[-1] == {"timestamp_ms": NOW - 100, "metric": "state", "value": "RUN", "tags": {"line": "B"}}
    assert len(get(gateway, "/v1/sources/pump-07/events?name=log&limit=2")[1]) == 2
    tail = get(gateway, "/v1/sources/pump-07/events?tail=2")[1]
    assert [e["metric"] for e in tail] == ["log", "state"]
    assert get(gateway, "/v1/sources/pump-07/logs?last=1h")[1] == ev     # the old name still answers
    assert get(gateway, "/v1/sources/pump-07/events?limit=10001")[0] == 400


def test_fleet_metrics(gateway):
    seed(gateway)
    status, f = get(gateway, "/v1/fleet/metrics?metric=temp")
    assert status == 200 and f["metric"] == "temp" and f["sources_w_metric"] == 2
    by = {s["source_id"]: s for s in f["sources"]}
    assert by["pump-07"]["count"] == 60 and by["pump-08"]["avg"] == 5
    assert get(gateway, "/v1/fleet/metrics")[0] == 400


def test_scopes_and_source_limits_are_enforced_on_reads(gateway):
    seed(gateway)
    assert get(gateway, "/v1/sources", key="plx_nope")[0] == 401
    assert http(gateway, "GET", "/v1/sources")[0] == 401
    writer = gateway.create_key(scopes="write")
    assert get(gateway, "/v1/sources", key=writer)[0] == 403
    mine = gateway.create_key(scopes="read", source="pump-07")
    assert [d["source_id"] for d in get(gateway, "/v1/sources", key=mine)[1]["devices"]] == ["pump-07"]
    assert get(gateway, "/v1/sources/pump-08/metrics/latest", key=mine)[0] == 403
    assert get(gateway, "/v1/fleet/health", key=mine)[1]["sources_total"] == 1
    assert ingest(gateway, [{"metric": "x", "value": 1}], key=mine, source_id="pump-07")[0] == 403


def test_devices_is_an_alias_of_sources(gateway):
    seed(gateway)
    assert get(gateway, "/v1/devices/pump-07/metrics")[1] == ["rpm", "temp"]


def stream(gw, path, key=None):
    ws = websocket.create_connection(gw.ws_url + path, timeout=60)
    ws.send(json.dumps({"type": "auth", "api_key": gw.key if key is None else key}))
    return ws


def test_live_metric_and_event_streams(gateway):
    NOW = int(time.time() * 1000)
    metrics = stream(gateway, "/v1/sources/pump-07/metrics/stream?metrics=temp")
    everything = stream(gateway, "/v1/sources/*/metrics/stream")
    logs = stream(gateway, "/v1/sources/pump-07/logs/stream")

    def sent():
        ingest(gateway, [{"metric": "temp", "value": 1.5, "timestamp": NOW}, {"metric": "rpm", "value": 2},
                         {"metric": "log", "value": "boot"}], source_id="pump-07")
        return True

    # A stream starts after auth is processed; offer data until the first frame shows.
    metrics.settimeout(0.5)
    while True:
        sent()
        try:
            f = next_of(metrics, "telemetry")
            break
        except websocket.WebSocketTimeoutException:
            continue
    assert f["points"][0] == {"source_id": "pump-07", "metric": "temp", "value": 1.5, "timestamp": NOW,
                              "class": "metric"}
    assert all(p["metric"] == "temp" for p in f["points"])
    e = next_of(logs, "event")
    assert e["metric"] == "log" and e["value"] == "boot" and e["source_id"] == "pump-07"
    assert {p["metric"] for p in next_of(everything, "telemetry")["points"]} == {"temp", "rpm"}
    for ws in (metrics, everything, logs):
        ws.close()


def test_live_stream_auth_failures_close_4401(gateway):
    ws = stream(gateway, "/v1/sources/pump-07/metrics/stream", key="plx_nope")
    assert recv(ws)["code"] == 4401
    ws = websocket.create_connection(gateway.ws_url + "/v1/sources/pump-07/logs/stream", timeout=60)
    ws.send(json.dumps({"type": "subscribe"}))
    assert recv(ws)["code"] == 4401
    other = gateway.create_key(scopes="read", source="pump-08")
    ws = stream(gateway, "/v1/sources/pump-07/metrics/stream", key=other)
    assert recv(ws)["code"] == 4401


def test_a_source_limited_viewer_of_every_source_sees_only_its_own(gateway):
    mine = gateway.create_key(scopes="read", source="pump-08")
    ws = stream(gateway, "/v1/sources/*/metrics/stream", key=mine)
    ws.settimeout(0.5)
    while True:
        ingest(gateway, [{"metric": "a", "value": 1}], source_id="pump-07")
        ingest(gateway, [{"metric": "b", "value": 2}], source_id="pump-08")
        try:
            f = next_of(ws, "telemetry")
            break
        except websocket.WebSocketTimeoutException:
            continue
    assert {p["source_id"] for p in f["points"]} == {"pump-08"}
    ws.close()


def test_the_dashboard_is_served_and_holds_no_key(gateway):
    status, html, h = http(gateway, "GET", "/")
    assert status == 200 and "<html" in html.lower() and h["Content-Type"].startswith("text/html")
    assert gateway.key not in html
    assert http(gateway, "GET", "/../gateway.db")[0] == 404
    assert http(gateway, "GET", "/nope.py")[0] == 404
