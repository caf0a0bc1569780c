"""The Data API and live streams on the real gateway, in the hosted Data
API's shapes (docs/api.md), and what each key scope may read."""

import http.client as http_client
import json
import time

import pytest
import websocket

from plexus.data_client import ApiError, DataClient
from support.raw import device, http, ingest, next_of, recv



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
    assert get(gateway, "/v1/sources/never-seen") == (404, {"detail": "source 'never-seen' has never been seen"})
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


def test_query_parameter_errors_are_400_or_422_as_hosted(gateway):
    seed(gateway)
    for qs in ("last=5x", "last=h", "interval=2m", "start=2026-01-01T00:00:00Z",
               "start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z"):
        status, body = get(gateway, "/v1/sources/pump-07/metrics/query?" + qs)
        assert status == 400 and isinstance(body["detail"], str) and body["detail"], qs
    # a parameter of the wrong type is refused before anything else, with the fault listed
    status, body = get(gateway, "/v1/sources/pump-07/metrics/query?last=1h&start=yesterday")
    assert status == 422 and body["detail"][0]["loc"] == ["query", "start"]
    assert body["detail"][0]["input"] == "yesterday" and body["detail"][0]["type"]
    assert get(gateway, "/v1/sources/pump-07/metrics/query?last=0m")[1]["series"] == {}   # an empty window
    assert get(gateway, "/v1/sources?status=gone")[0] == 422


def test_events_with_name_limit_and_tail(gateway):
    NOW = seed(gateway)
    status, ev = get(gateway, "/v1/sources/pump-07/logs?last=1h")
    assert status == 200 and [e["metric"] for e in ev] == ["log"] * 5 + ["state"]
    assert ev[-1] == {"timestamp_ms": NOW - 100, "metric": "state", "value": "RUN", "tags": {"line": "B"}}
    assert ev[0]["value"] == '{"level":"error","msg":"m0"}'      # always text: JSON text for non-strings
    assert len(get(gateway, "/v1/sources/pump-07/logs?name=log&limit=2")[1]) == 2
    tail = get(gateway, "/v1/sources/pump-07/logs?tail=2&last=1m")[1]   # tail reads no window
    assert [e["metric"] for e in tail] == ["log", "state"]
    assert get(gateway, "/v1/sources/pump-07/logs?tail=0")[1] == []
    assert get(gateway, "/v1/sources/pump-07/events?last=1h")[1] == ev     # the newer name answers the same
    status, body = get(gateway, "/v1/sources/pump-07/logs?limit=10001")
    assert status == 422 and body["detail"][0]["type"] == "less_than_equal"
    assert get(gateway, "/v1/sources/pump-07/logs?tail=ten")[0] == 422


def test_fleet_metrics_are_per_source_bucket_arrays(gateway):
    NOW = seed(gateway)
    status, f = get(gateway, "/v1/fleet/metrics?metric=temp&last=30m")
    assert status == 200 and f["metric"] == "temp" and f["interval"] == "1m" and f["sources_w_metric"] == 2
    by = {s["source_id"]: s for s in f["sources"]}
    assert set(by["pump-07"]) == {"source_id", "online", "timestamp_ms", "avg", "min", "max", "count"}
    s = by["pump-07"]
    assert sum(s["count"]) == 60 and len(s["timestamp_ms"]) in (2, 3)     # 60 readings over two minutes
    assert s["timestamp_ms"] == sorted(s["timestamp_ms"]) and all(t % 60000 == 0 for t in s["timestamp_ms"])
    assert min(s["min"]) == 20.0 and max(s["max"]) == 79.0 and by["pump-07"]["online"] is True
    assert by["pump-08"] == {"source_id": "pump-08", "online": True, "timestamp_ms": [(NOW - 1000) // 60000 * 60000],
                             "avg": [5.0], "min": [5.0], "max": [5.0], "count": [1]}
    assert f["truncated"] is False and f["sources_online"] == 2
    status, body = get(gateway, "/v1/fleet/metrics")
    assert status == 422 and body["detail"][0]["loc"] == ["query", "metric"]


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
    assert get(gateway, "/v1/devices/pump-07/metrics")[1] == ["rpm", "temp"]   # urllib follows the 308
    conn = http_client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        conn.request(method, "/v1/devices/pump-07/commands?x=1", body=b'{"command":"a"}',
                     headers={"x-api-key": gateway.key, "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert (r.status, r.getheader("Location")) == (308, "/v1/sources/pump-07/commands?x=1"), method
    conn.close()


def test_an_unknown_source_is_404_on_every_per_source_route(gateway):
    seed(gateway)
    for rest in ("", "/metrics", "/metrics/latest", "/metrics/query", "/logs", "/events", "/commands/x",
                 "/runs/x"):
        status, body = get(gateway, "/v1/sources/nobody" + rest)
        assert status == 404 and isinstance(body["detail"], str), (rest, status, body)
    status, body, _ = http(gateway, "POST", "/v1/sources/nobody/runs", {"command": "go"}, key=gateway.key)
    assert status == 404 and body["detail"]
    # a command to a source that is not connected is not queued, as the hosted API answers it
    for sid in ("nobody", "pump-07"):
        assert http(gateway, "POST", "/v1/sources/%s/commands" % sid, {"command": "go"}, key=gateway.key)[:2] == \
            (200, {"queued": False})
    status, body, _ = http(gateway, "POST", "/v1/sources/pump-07/commands", {"params": {}}, key=gateway.key)
    assert status == 422 and body["detail"][0]["loc"] == ["body", "command"]
    # errors of the shared key checks and of the router are in the same shape
    assert get(gateway, "/v1/sources/pump-07", key="plx_nope")[1] == {"detail": "invalid API key"}
    assert get(gateway, "/v1/nothing/here") == (404, {"detail": "Not Found"})
    assert http(gateway, "DELETE", "/v1/sources", key=gateway.key)[:2] == (405, {"detail": "Method Not Allowed"})


def test_cors_on_the_data_api_with_preflight(gateway):
    seed(gateway)
    status, text, h = http(gateway, "OPTIONS", "/v1/sources/pump-07/metrics/query", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key"})
    assert status == 200 and h["Access-Control-Allow-Origin"] == "*"
    assert "GET" in h["Access-Control-Allow-Methods"] and h["Access-Control-Allow-Headers"] == "x-api-key"
    status, _, h = http(gateway, "GET", "/v1/sources", key=gateway.key, headers={"Origin": "https://app.example"})
    assert status == 200 and h["Access-Control-Allow-Origin"] == "*"
    status, _, h = http(gateway, "GET", "/v1/sources", key="plx_nope", headers={"Origin": "https://app.example"})
    assert status == 401 and h["Access-Control-Allow-Origin"] == "*"      # the page can read why


def test_health_is_the_hosted_body_and_the_version_is_a_header(gateway):
    from plexus_core import __version__
    conn = http_client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    conn.request("GET", "/health")
    r = conn.getresponse()
    assert (r.status, r.read()) == (200, b'{"status":"ok"}')
    assert r.getheader("x-plexus-version") == __version__
    conn.close()


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
    p = f["points"][0]
    assert p == {"class": "metric", "metric": "temp", "org_id": "local", "source_id": "pump-07",
                 "timestamp": NOW, "trace_id": p["trace_id"], "v": 1, "value": 1.5}     # the hosted fields
    assert len(p["trace_id"]) == 36
    assert all(p["metric"] == "temp" for p in f["points"])
    e = next_of(logs, "event")
    assert e["metric"] == "log" and e["value"] == "boot" and e["source_id"] == "pump-07"
    assert (e["class"], e["v"], e["org_id"]) == ("event", 1, "local") and e["trace_id"]
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


def test_video_init_lists_platform_sensors_and_declared_and_seen_cameras(gateway):
    ws, auth = device(gateway, "cam-rig", platform="c-sdk", sensors=[{"name": "imu", "rate_hz": 100}],
                      cameras=[{"camera_id": "front", "video_type": "thermal"}, "side", 7, {"nope": 1}])
    assert auth["type"] == "authenticated"
    viewer = stream(gateway, "/v1/sources/cam-rig/video/stream?camera_id=rear")
    init = next_of(viewer, "init")
    assert init["online_sources"] == [{"source_id": "cam-rig", "platform": "c-sdk",
                                       "sensors": [{"name": "imu", "rate_hz": 100}],
                                       "cameras": [{"camera_id": "front", "video_type": "thermal"},
                                                   {"camera_id": "side", "video_type": "normal"}]}]
    frame = {"type": "video_frame", "camera_id": "rear", "frame": "/9j/2Q==", "width": 2, "height": 2,
             "timestamp": 1760000000000, "video_type": "thermal"}
    viewer.settimeout(0.5)
    while True:  # the viewer is served once its auth is processed: offer frames until one shows
        ws.send(json.dumps(frame))
        try:
            got = next_of(viewer, "video_frame")
            break
        except websocket.WebSocketTimeoutException:
            continue
    assert (got["source_id"], got["camera_id"]) == ("cam-rig", "rear")
    viewer.close()
    again = stream(gateway, "/v1/sources/*/video/stream")
    cams = next_of(again, "init")["online_sources"][0]["cameras"]
    assert cams[-1] == {"camera_id": "rear", "video_type": "thermal"} and len(cams) == 3
    assert get(gateway, "/v1/sources/cam-rig")[1]["cameras"] == ["front", "side", "rear"]
    again.close()
    ws.close()


def test_every_data_api_body_is_compact_json(gateway):
    seed(gateway)
    paths = ["/v1/sources", "/v1/sources/pump-07", "/v1/sources/pump-07/metrics", "/v1/sources/pump-07/metrics/latest",
             "/v1/sources/pump-07/metrics/query?last=5m", "/v1/sources/pump-07/metrics/query?last=1d",
             "/v1/sources/pump-07/logs?last=1h", "/v1/fleet/health", "/v1/fleet/metrics?metric=temp",
             "/v1/sources/nobody", "/v1/sources/pump-07/logs?tail=x", "/v1/fleet/metrics", "/health",
             "/openapi.json"]
    conn = http_client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    for path, key in [(p, gateway.key) for p in paths] + [("/v1/sources", "plx_nope")]:
        conn.request("GET", path, headers={"x-api-key": key})
        r = conn.getresponse()
        text = r.read().decode()
        assert text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False), path
        assert r.getheader("Content-Type").startswith("application/json"), path
    conn.request("POST", "/v1/sources/pump-07/commands", body=b'{"command":"go"}',
                 headers={"x-api-key": gateway.key, "Content-Type": "application/json"})
    assert conn.getresponse().read() == b'{"queued":false}'
    conn.close()


def test_our_client_reports_the_hosted_error_shapes(gateway):
    seed(gateway)
    client = DataClient(gateway.url, gateway.key)
    with pytest.raises(ApiError) as e:
        client.get("/v1/sources/pump-07/logs", tail="ten")
    assert e.value.status == 422 and "tail: Input should be a valid integer" in str(e.value)
    with pytest.raises(ApiError) as e:
        client.query("nobody", last="5m")
    assert e.value.status == 404 and "never been seen" in str(e.value)
    assert client.events("pump-07", last="1h")[-1]["value"] == "RUN"
