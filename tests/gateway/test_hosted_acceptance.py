"""The hosted gateway's acceptance rules, on /ws/device and /ingest alike,
against the real gateway; and our own clients never stricter than that."""

import json
import time

import websocket

from plexus import Plexus
from support.raw import device, http, ingest, next_of, recv, wait_for

T0 = 1760000000000
LIST_3931 = [0] * 1965                       # 3,931 bytes compact, 5,895 with spaces
ACCENTS = {"msg": "é" * 1300}                # 2,610 UTF-8 bytes compact, 7,812 as \u00e9 escapes


def over_ws(gw, source_id, points):
    """Send points in one acked frame; the stored points of the source, or the error frame."""
    ws, _ = device(gw, source_id)
    ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": points}))
    f = recv(ws)
    ws.close()
    return f if f["type"] == "error" else gw.points(source_id)


def both_paths(gw, name, points):
    """(points stored over WS, points stored over /ingest) for the same input."""
    got_ws = over_ws(gw, name + "-ws", points)
    status, body = ingest(gw, points, source_id=name + "-http")
    assert status == 200, body
    return got_ws, gw.points(name + "-http")


def test_an_empty_string_value_and_empty_tag_keys_are_valid(gateway):
    pts = [{"class": "event", "metric": "status", "value": "", "timestamp": T0},
           {"metric": "temp", "value": 1.5, "timestamp": T0 + 1, "tags": {"": "x", "line": ""}}]
    for got in both_paths(gateway, "empty", pts):
        assert got[0]["value"] == "" and got[0]["class"] == "event"
        assert got[1]["tags"] == {"": "x", "line": ""}


def test_any_finite_timestamp_is_taken(gateway):
    pts = [{"metric": "t", "value": i, "timestamp": ts}
           for i, ts in enumerate([0, -5000, 1.5e300, T0 + 0.7, 4e13])]
    got_ws, got_http = both_paths(gateway, "ts", pts)
    by_value = {p["value"]: p["timestamp"] for p in got_ws}
    assert by_value == {0: 0, 1: -5000, 2: 2 ** 63 - 1, 3: T0, 4: 40000000000000}
    assert {p["value"]: p["timestamp"] for p in got_http} == by_value   # no rescale: 0 and negatives are not seconds
    assert ingest(gateway, [{"metric": "s", "value": 1, "timestamp": 1760000000.5}], source_id="ts-s")[0] == 200
    assert gateway.points("ts-s")[0]["timestamp"] == 1760000000500        # HTTP still rescales seconds
    err = over_ws(gateway, "ts-bad", [{"metric": "t", "value": 1, "timestamp": "soon"}])
    assert err["code"] == "INVALID_MESSAGE" and "timestamp" in err["detail"]


def test_latest_answers_from_the_last_hour_and_a_far_future_reading_wins(gateway):
    now = int(time.time() * 1000)

    def latest():
        return http(gateway, "GET", "/v1/sources/lt-1/metrics/latest", key=gateway.key)[1]["metrics"]
    assert ingest(gateway, [{"metric": "old", "value": 1, "timestamp": now - 2 * 3600000},
                            {"metric": "temp", "value": 20, "timestamp": now - 60000}], source_id="lt-1")[0] == 200
    assert latest() == {"temp": 20}                     # older than an hour: not in `latest`
    assert ingest(gateway, [{"metric": "temp", "value": 99, "timestamp": now + 10 ** 12}], source_id="lt-1")[0] == 200
    assert ingest(gateway, [{"metric": "temp", "value": 21, "timestamp": now}], source_id="lt-1")[0] == 200
    assert latest() == {"temp": 99}                     # the far-future reading stays the latest


def test_event_objects_are_measured_as_compact_utf8(gateway):
    assert len(json.dumps(LIST_3931, separators=(",", ":"))) == 3931
    pts = [{"metric": "blob", "value": LIST_3931, "timestamp": T0},
           {"metric": "note", "value": ACCENTS, "timestamp": T0 + 1}]
    for got in both_paths(gateway, "size", pts):
        assert got[0]["value"] == LIST_3931 and got[1]["value"] == ACCENTS
    too_big = {"k": "x" * 4090}                          # 4,098 bytes compact
    err = over_ws(gateway, "size-big", [{"metric": "blob", "value": too_big, "timestamp": T0}])
    assert err["code"] == "INVALID_MESSAGE" and "4096" in err["detail"]
    status, body = ingest(gateway, [{"metric": "blob", "value": too_big, "timestamp": T0}], source_id="size-big")
    assert status == 400 and "4096" in body["error"]


def test_a_point_source_id_that_is_empty_null_or_not_a_string_is_the_envelopes(gateway):
    pts = [{"metric": "m", "value": i, "timestamp": T0 + i, "source_id": sid}
           for i, sid in enumerate(["", None, 5, "other-1"])]
    status, body = ingest(gateway, pts, source_id="env-1")
    assert status == 200 and body["count"] == 4
    assert [p["value"] for p in gateway.points("env-1")] == [0, 1, 2]
    assert [p["value"] for p in gateway.points("other-1")] == [3]


def test_device_error_without_error_is_stored_as_null(gateway):
    ws, _ = device(gateway, "dev-err")
    ws.send(json.dumps({"type": "device_error", "source": "i2c"}))
    ws.send(json.dumps({"type": "device_error", "error": "sensor lost"}))
    got = wait_for(lambda: (lambda p: p if len(p) == 2 else None)(gateway.points("dev-err")), what="both stored")
    assert [(p["metric"], p["value"]) for p in got] == [("device.error", None), ("device.error", "sensor lost")]
    assert got[0]["tags"] == {"error_source": "i2c"}
    ws.close()


def test_a_device_auth_after_authentication_is_ignored(gateway):
    ws, _ = device(gateway, "auth-1")
    ws.send(json.dumps({"type": "device_auth", "api_key": "plx_other", "source_id": "auth-2"}))
    ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [{"metric": "m", "value": 1, "timestamp": T0}]}))
    assert recv(ws) == {"type": "telemetry_ack", "seq": 1}   # no error, still authenticated as auth-1
    assert gateway.count("auth-1") == 1 and gateway.count("auth-2") == 0
    ws.close()


def test_invalid_utf8_is_read_with_replacement_characters_except_in_video_frames(gateway):
    ws, _ = device(gateway, "utf-1")
    bad = (b'{"type":"telemetry","seq":1,"points":[{"metric":"log","value":"bad \xff byte","timestamp":%d}]}'
           % T0)
    ws.send_frame(websocket.ABNF.create_frame(bad, websocket.ABNF.OPCODE_TEXT))
    assert recv(ws) == {"type": "telemetry_ack", "seq": 1}    # not a 1007 close
    assert gateway.points("utf-1")[0]["value"] == "bad \ufffd byte"
    video = b'{"type":"video_frame","camera_id":"cam\xff","frame":"AAAA","width":1,"height":1}'
    ws.send_frame(websocket.ABNF.create_frame(video, websocket.ABNF.OPCODE_TEXT))
    assert next_of(ws, "error")["code"] == "INVALID_FRAME_ENCODING"
    ws.send(json.dumps({"type": "telemetry", "seq": 2, "points": [{"metric": "m", "value": 1, "timestamp": T0}]}))
    assert next_of(ws, "telemetry_ack")["seq"] == 2            # still open
    ws.close()
    body = b'{"source_id":"utf-2","points":[{"metric":"log","value":"caf\xe9","timestamp":%d}]}' % T0
    status, answer, _ = http(gateway, "POST", "/ingest", raw=body, key=gateway.key)
    assert status == 200 and answer["count"] == 1
    assert gateway.points("utf-2")[0]["value"] == "caf\ufffd"
    lone = '{"source_id":"utf-3","points":[{"metric":"log","value":{"\\udc00k":"a\\ud800b"},"timestamp":%d}]}' % T0
    assert http(gateway, "POST", "/ingest", raw=lone.encode(), key=gateway.key)[0] == 200   # stored, not refused
    assert gateway.points("utf-3")[0]["value"] == {"\ufffdk": "a\ufffdb"}


def test_our_client_sends_what_the_hosted_gateway_takes(gateway):
    px = Plexus(api_key=gateway.key, source_id="sdk-1", ws_url=gateway.ws_url)
    try:
        assert px.send("status", "") is True
        assert px.send("temp", 1.0, tags={"": "x", "line": ""}) is True
        assert px.event("blob", LIST_3931) is True
        assert px.event("note", ACCENTS) is True
        assert px.send("epoch", 2, timestamp=0) is True
        assert px.send("future", 3, timestamp=4e13) is True     # year 3237, in ms
        assert px.flush_buffer(60) is True
    finally:
        px.close()
    got = {p["metric"]: p for p in gateway.points("sdk-1")}
    assert got["status"]["value"] == "" and got["temp"]["tags"] == {"": "x", "line": ""}
    assert got["blob"]["value"] == LIST_3931 and got["note"]["value"] == ACCENTS
    assert got["epoch"]["timestamp"] == 0 and got["future"]["timestamp"] == 40000000000000
