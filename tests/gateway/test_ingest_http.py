"""POST /ingest against the real gateway: every status of docs/protocol.md §2.2, in
the hosted gateway's order, and what is stored."""

import gzip
import json

from support.raw import http, ingest, point

T0 = 1760000000000


def test_points_are_stored_with_class_inferred_and_seconds_rescaled(gateway):
    status, body = ingest(gateway, [
        {"metric": "temp", "value": 21.5, "timestamp": 1760000000},        # seconds -> ms
        {"metric": "state", "value": {"a": 1}, "timestamp": T0 + 5, "tags": {"line": "B"}},
        {"metric": "flag", "value": True, "timestamp": T0 + 6, "unknown_key": 1},
    ], sdk="c/0.1.1")                                                       # unknown envelope key
    assert status == 200 and body == {"success": True, "count": 3, "source_id": "rig-1"}
    got = gateway.points("rig-1")
    assert got[0] == {"class": "metric", "metric": "temp", "value": 21.5, "timestamp": T0}
    assert got[1] == {"class": "event", "metric": "state", "value": {"a": 1}, "timestamp": T0 + 5,
                      "tags": {"line": "B"}}
    assert got[2]["class"] == "event" and got[2]["value"] is True


def test_a_points_own_source_id_wins_over_the_envelope(gateway):
    status, body = ingest(gateway, [dict(point(1), source_id="other-1"), point(2)])
    assert status == 200 and body["count"] == 2 and "source_id" not in body
    assert gateway.count("other-1") == 1 and gateway.count("rig-1") == 1


def test_a_missing_timestamp_is_stamped_on_arrival(gateway):
    assert ingest(gateway, [{"metric": "x", "value": 1}])[0] == 200
    assert gateway.points("rig-1")[0]["timestamp"] > T0


def test_key_checks_come_first(gateway):
    assert http(gateway, "POST", "/ingest", {"points": []})[:2] == (401, {"error": "missing x-api-key header"})
    assert ingest(gateway, [point(1)], key="plx_nope")[0] == 401
    reader = gateway.create_key(scopes="read")
    status, body = ingest(gateway, [point(1)], key=reader)
    assert status == 403 and "write" in body["error"]
    # 401/403 are decided before the body is even looked at
    assert http(gateway, "POST", "/ingest", raw=b"not json", key="plx_nope")[0] == 401
    assert gateway.count("rig-1") == 0


def test_a_source_limited_key_sends_only_as_its_source(gateway):
    k = gateway.create_key(source="pump-07")
    assert ingest(gateway, [point(1)], key=k, source_id="pump-07")[0] == 200
    status, body = ingest(gateway, [point(2)], key=k, source_id="pump-08")
    assert status == 403 and "limited" in body["error"]
    assert ingest(gateway, [dict(point(3), source_id="pump-08")], key=k, source_id="pump-07")[0] == 403
    assert gateway.count("pump-07") == 1 and gateway.count("pump-08") == 0


def test_body_errors_are_400_with_a_reason(gateway):
    k = {"key": gateway.key}
    assert http(gateway, "POST", "/ingest", raw=b"{nope", **k)[0] == 400
    assert http(gateway, "POST", "/ingest", raw=b"\x1f\x8b garbage", headers={"Content-Encoding": "gzip"},
                **k)[:2] == (400, {"error": "invalid gzip body"})
    assert http(gateway, "POST", "/ingest", {"source_id": "a"}, **k)[:2] == \
        (400, {"error": "'points' array is required"})
    assert http(gateway, "POST", "/ingest", {"points": [point(1)]}, **k)[0] == 400          # no source_id
    assert ingest(gateway, [point(i) for i in range(10001)])[0] == 400
    for bad in ({"metric": "t", "value": None}, {"metric": "", "value": 1}, {"metric": "t", "value": "x",
                "class": "metric"}, {"metric": "t", "value": 1, "timestamp": "soon"},
                {"metric": "t", "value": "x" * 257}, {"metric": "t", "value": 1, "tags": {"a": 1}},
                {"metric": "t", "value": 1, "tags": {str(i): "v" for i in range(17)}},
                {"metric": "t", "value": {"blob": "x" * 5000}}, None):
        status, body = ingest(gateway, [point(1), bad])
        assert status == 400 and "points[1]" in body["error"], (bad, body)
    nan = json.dumps({"source_id": "rig-1", "points": [{"metric": "t", "value": float("nan")}]}).encode()
    assert http(gateway, "POST", "/ingest", raw=nan, **k)[0] == 400
    assert gateway.count("rig-1") == 0          # a bad point rejects its whole request


def test_empty_points_is_a_valid_no_op(gateway):
    assert ingest(gateway, []) == (200, {"success": True, "count": 0})


def test_bodies_over_5_mib_are_413_compressed_or_not(gateway):
    big = json.dumps({"source_id": "rig-1", "points": [{"metric": "m", "value": "x" * 200}] * 30000}).encode()
    assert len(big) > 5 * 1024 * 1024
    assert http(gateway, "POST", "/ingest", raw=big, key=gateway.key)[0] == 413
    assert len(gzip.compress(big)) < 1024 * 1024          # small on the wire, too big unpacked
    assert http(gateway, "POST", "/ingest", raw=big, key=gateway.key, gzip=True)[0] == 413
    assert gateway.count("rig-1") == 0


def test_gzip_bodies_are_accepted(gateway):
    body = {"source_id": "rig-1", "points": [point(i) for i in range(500)]}
    status, data, _ = http(gateway, "POST", "/ingest", body, key=gateway.key, gzip=True)
    assert status == 200 and data["count"] == 500 and gateway.count("rig-1") == 500


def test_a_resent_batch_id_is_acknowledged_and_stored_once(gateway):
    pts = [point(i) for i in range(10)]
    assert ingest(gateway, pts, batch_id="boot7-1")[0] == 200
    assert ingest(gateway, pts, batch_id="boot7-1") == (200, {"success": True, "count": 10, "source_id": "rig-1"})
    assert ingest(gateway, pts, batch_id="boot7-2")[0] == 200
    assert gateway.count("rig-1") == 20
    assert ingest(gateway, pts, batch_id="x" * 129)[0] == 400


def test_cors_preflight_and_headers(gateway):
    status, _, h = http(gateway, "OPTIONS", "/ingest")
    assert status == 204
    assert h["Access-Control-Allow-Origin"] == "*"
    assert h["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert h["Access-Control-Allow-Headers"] == "Content-Type, x-api-key"
    assert h["Access-Control-Max-Age"] == "86400"
    assert ingest(gateway, [point(1)])[0] == 200


def test_health_is_public(gateway):
    status, body, _ = http(gateway, "GET", "/health")
    assert status == 200 and body["status"] == "ok"


def test_a_source_over_its_ceiling_is_reported_as_dropped(tmp_path):
    from support.gateway import Gateway
    gw = Gateway(tmp_path / "gw", args=["--source-rate", "0.01", "--source-burst", "3"]).start()
    try:
        answers = [ingest(gw, [point(i), point(i + 100)]) for i in range(5)]
        assert [a[0] for a in answers] == [200] * 5                 # /ingest never answers 429
        assert [a[1].get("dropped", 0) for a in answers] == [0, 0, 0, 2, 2]
        assert answers[3][1]["count"] == 0
        assert gw.count("rig-1") == 6
        assert ingest(gw, [point(1)], source_id="rig-2")[1] == {"success": True, "count": 1, "source_id": "rig-2"}
    finally:
        gw.stop()
