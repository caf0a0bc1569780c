"""`/ws/browser`, the hosted gateway's browser socket (docs/protocol.md §11),
on a real gateway process with real device clients: auth as the hosted
gateway answers it, live telemetry pulled with `ready`, events, device
status, video, the allow-listed device commands and our key scopes."""

import base64
import json

import cv2
import numpy as np
import pytest
import websocket

from plexus import Plexus
from support.raw import device, ingest, next_of, recv, wait_for


def browser(gw, key=None, kind="browser_auth"):
    """A browser socket after its first frame; returns (socket, first reply)."""
    ws = websocket.create_connection(gw.ws_url + "/ws/browser", timeout=60)
    field = "api_key" if kind == "data_api_auth" else "token"
    ws.send(json.dumps({"type": kind, field: gw.key if key is None else key}))
    return ws, recv(ws)


def synced(ws):
    """Every frame sent before this call has been handled: the gateway reads
    in order and answers the ping last."""
    ws.send(json.dumps({"type": "ping"}))
    return frames_until(ws, lambda f: f["type"] == "pong")


def frames_until(ws, done, ready=True):
    """Frames up to and including the first for which done(frame) holds;
    `ready` follows every telemetry frame, as the hosted app sends it."""
    seen = []
    while True:
        f = recv(ws)
        assert f["type"] != "close", "closed (%s); had %s" % (f, seen)
        seen.append(f)
        if ready and f["type"] == "telemetry":
            ws.send(json.dumps({"type": "ready"}))
        if done(f):
            return seen


def points_of(frames, source_id=None):
    return [p for f in frames if f["type"] == "telemetry" for p in f["points"]
            if source_id is None or p["source_id"] == source_id]


def commands_on(dev):
    """The next typed_command a raw device socket receives."""
    return next_of(dev, "typed_command")


@pytest.fixture
def client(gateway, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for v in ("PLEXUS_API_KEY", "PLEXUS_GATEWAY_URL", "PLEXUS_GATEWAY_WS_URL", "PLEXUS_ENDPOINT"):
        monkeypatch.delenv(v, raising=False)
    made = []

    def make(source_id):
        px = Plexus(api_key=gateway.key, source_id=source_id, ws_url=gateway.ws_url, gateway_url=gateway.url,
                    buffer_path=str(tmp_path / ("%s.db" % source_id)))
        made.append(px)
        wait_for(lambda: px.connected, what="the client to authenticate")
        return px

    yield make
    for px in made:
        px.close()


def test_auth_answers_as_the_hosted_gateway(gateway):
    dev, _ = device(gateway, "rig-a", sensors=[{"name": "imu"}])
    ws = websocket.create_connection(gateway.ws_url + "/ws/browser", timeout=60)
    ws.send(json.dumps({"type": "browser_auth", "token": gateway.key}))
    text = ws.recv()
    assert text.startswith('{"type":"init","online_sources":[')     # compact, as Go writes it
    init = json.loads(text)
    assert [s["source_id"] for s in init["online_sources"]] == ["rig-a"]
    ws.close()
    ws, init = browser(gateway, kind="data_api_auth")
    assert init["type"] == "init"
    ws.close()

    write_only = gateway.create_key(scopes="write")
    for first, message in [
        ({"type": "browser_auth", "token": "plx_not-a-key"}, "Invalid session"),
        ({"type": "share_auth", "token": "plx_not-a-key"}, "Invalid share token"),
        ({"type": "data_api_auth", "api_key": "plx_not-a-key"}, "Invalid API key"),
        ({"type": "browser_auth", "token": ""}, "token required"),
        ({"type": "data_api_auth"}, "api_key required"),
        ({"type": "auth", "api_key": gateway.key}, "first message must be browser_auth, share_auth, or data_api_auth"),
        ({"type": "browser_auth", "token": write_only}, "API key lacks read scope"),
    ]:
        ws = websocket.create_connection(gateway.ws_url + "/ws/browser", timeout=60)
        ws.send(json.dumps(first))
        assert recv(ws) == {"type": "error", "message": message}, first
        assert recv(ws) == {"type": "close", "code": 1008, "reason": "auth failed"}, first
    ws = websocket.create_connection(gateway.ws_url + "/ws/browser", timeout=60)
    ws.send("{not json")
    assert recv(ws) == {"type": "error", "message": "invalid JSON"}
    assert recv(ws)["code"] == 1008
    dev.close()


def test_live_telemetry_events_and_status_from_a_real_client(gateway, client):
    ws, init = browser(gateway)
    assert init == {"type": "init", "online_sources": []}
    px = client("rig-b")
    online = frames_until(ws, lambda f: f["type"] == "source_status")[-1]
    assert online["source_id"] == "rig-b" and online["status"] == "online" and online["platform"] == "python-sdk"

    px.send("temp", 21.5, timestamp=1760000000000)
    px.event("log", {"msg": "boot"}, timestamp=1760000000001)
    kinds = set()
    frames = frames_until(ws, lambda f: kinds.add(f["type"]) or {"telemetry", "event"} <= kinds)
    live = points_of(frames)
    assert [{k: p[k] for k in ("source_id", "metric", "value", "timestamp", "class")} for p in live] == [
        {"source_id": "rig-b", "metric": "temp", "value": 21.5, "timestamp": 1760000000000, "class": "metric"}]
    assert live[0]["org_id"] and live[0]["trace_id"] and live[0]["v"] == 1  # the hosted live point's fields
    event = next(f for f in frames if f["type"] == "event")
    assert event["metric"] == "log" and event["value"] == {"msg": "boot"} and event["source_id"] == "rig-b"

    # Readings that arrive before the browser asks for more are kept and
    # delivered after its `ready`: nothing lost, in order.
    for i in range(5):
        px.send("seq", i, timestamp=1760000001000 + i)
    got = []
    frames_until(ws, lambda f: got.extend(p["value"] for p in points_of([f]) if p["metric"] == "seq")
                 or len(got) >= 5)
    assert got == list(range(5))
    px.close()
    offline = frames_until(ws, lambda f: f["type"] == "source_status" and f["status"] == "offline")[-1]
    assert offline == {"type": "source_status", "source_id": "rig-b", "status": "offline"}
    ws.close()


def test_heartbeats_and_a_metrics_subscription_for_an_api_key(gateway):
    dev, _ = device(gateway, "rig-c")
    ws, _ = browser(gateway, kind="data_api_auth")
    ws.send(json.dumps({"type": "subscribe", "stream": "metrics", "source_id": "rig-c", "metrics": ["rpm"]}))
    synced(ws)
    dev.send(json.dumps({"type": "heartbeat", "source_id": "rig-c", "uptime_s": 42}))
    beat = frames_until(ws, lambda f: f["type"] == "heartbeat", ready=False)[-1]
    assert beat["source_id"] == "rig-c" and beat["uptime_s"] == 42 and beat["status"] == "running"
    dev.send(json.dumps({"type": "telemetry", "seq": 1, "points": [
        {"class": "metric", "metric": "temp", "value": 1, "timestamp": 1760000000000},
        {"class": "metric", "metric": "rpm", "value": 900, "timestamp": 1760000000000}]}))
    while True:
        text = ws.recv()
        if '"type":"telemetry"' in text:      # compact, as small clients search it
            break
    assert [(p["metric"], p["value"]) for p in json.loads(text)["points"]] == [("rpm", 900)]   # only what it asked for
    ws.close()
    dev.close()


def test_a_hidden_tab_skips_events_and_gets_its_telemetry_when_shown(gateway):
    ws, _ = browser(gateway)
    ws.send(json.dumps({"type": "set_throttle", "enabled": True}))
    synced(ws)
    # /ingest answers after the points are published, so each step is complete when it returns.
    assert ingest(gateway, [{"metric": "t", "value": 1}, {"metric": "log", "value": "while hidden"}],
                  source_id="rig-h")[0] == 200
    ws.send(json.dumps({"type": "set_throttle", "enabled": False}))
    synced(ws)
    assert ingest(gateway, [{"metric": "t", "value": 2}, {"metric": "log", "value": "shown"}],
                  source_id="rig-h")[0] == 200
    kinds = set()
    frames = frames_until(ws, lambda f: kinds.add(f["type"]) or {"telemetry", "event"} <= kinds)
    assert [f["value"] for f in frames if f["type"] == "event"] == ["shown"]
    assert [p["value"] for p in points_of(frames)] == [1, 2]     # held while hidden, in order
    ws.close()


def _jpeg(seed):
    img = np.full((48, 64, 3), seed * 40 % 256, np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def test_video_frames_of_the_subscribed_camera_are_relayed(gateway, client):
    ws, _ = browser(gateway)
    ws.send(json.dumps({"type": "subscribe", "cameras": ["front"]}))
    synced(ws)
    px = client("cam-rig")
    front, back = _jpeg(1), _jpeg(2)
    got = []

    def offered():
        px.send_video_frame(back, camera_id="back", timestamp=1760000000000)
        px.send_video_frame(front, camera_id="front", timestamp=1760000000001)
        ws.settimeout(2)
        try:
            got.extend(f for f in frames_until(ws, lambda f: f["type"] == "video_frame") if f["type"] == "video_frame")
        except websocket.WebSocketTimeoutException:
            return False
        finally:
            ws.settimeout(60)
        return True

    wait_for(offered, what="a relayed video frame")
    assert {f["camera_id"] for f in got} == {"front"}
    f = got[-1]
    assert f["source_id"] == "cam-rig" and base64.b64decode(f["frame"]) == front
    assert f["width"] == 64 and f["height"] == 48
    ws.close()


def test_allow_listed_commands_reach_the_device_as_hosted_and_nothing_else(gateway):
    dev, _ = device(gateway, "rig-d")
    ws, _ = browser(gateway)
    ws.send(json.dumps({"type": "reboot", "source_id": "rig-d"}))                   # not on the list
    ws.send(json.dumps({"type": "typed_command", "source_id": "rig-d", "command": "x"}))
    ws.send(json.dumps({"type": "configure", "source_id": "rig-d", "sensor": "imu", "config": {"rate_hz": 100},
                        "id": "chosen-by-browser", "params": {"evil": True}, "extra": 1}))
    cmd = commands_on(dev)
    assert cmd["command"] == "configure" and cmd["id"] != "chosen-by-browser"
    assert cmd["params"] == {"source_id": "rig-d", "sensor": "imu", "config": {"rate_hz": 100}}
    assert set(cmd) == {"type", "id", "command", "params"}
    ws.send(json.dumps({"type": "start_stream", "source_id": "rig-d", "metrics": ["a"], "interval_ms": 100,
                        "store": True, "camera_id": "not-for-this-command"}))
    cmd = commands_on(dev)
    assert cmd["command"] == "start_stream"
    assert cmd["params"] == {"source_id": "rig-d", "metrics": ["a"], "interval_ms": 100, "store": True}

    # What the device answers reaches the browser, as on the hosted gateway.
    dev.send(json.dumps({"type": "command_result", "id": cmd["id"], "command": "start_stream", "event": "ack"}))
    res = frames_until(ws, lambda f: f["type"] == "command_result")[-1]
    assert res["id"] == cmd["id"] and res["event"] == "ack"

    ws.send(json.dumps({"type": "stop_stream", "source_id": "nobody-here"}))
    ws.send(json.dumps({"type": "stop_stream"}))
    errors = [f for f in frames_until(ws, lambda f: f.get("message") == "source_id required") if f["type"] == "error"]
    assert [e["message"] for e in errors] == ["device not connected", "source_id required"]
    ws.close()
    dev.close()


def test_a_real_client_handles_a_relayed_command(gateway, client):
    px = client("rig-e")
    calls = []
    px.on_command("configure_camera", lambda command, params: calls.append((command, params)) or {"ok": True})
    ws, _ = browser(gateway)
    ws.send(json.dumps({"type": "configure_camera", "source_id": "rig-e", "camera_id": "front",
                        "config": {"exposure": 3}}))
    result = frames_until(ws, lambda f: f["type"] == "command_result" and f.get("event") == "result")[-1]
    assert calls == [("configure_camera", {"source_id": "rig-e", "camera_id": "front", "config": {"exposure": 3}})]
    assert result["result"] == {"ok": True}
    ws.close()


def test_scopes_decide_who_may_watch_and_command(gateway):
    dev, _ = device(gateway, "rig-f")
    readers = [browser(gateway, key=gateway.create_key(scopes="read"))[0], browser(gateway, kind="share_auth")[0]]
    for ws, message in zip(readers, ["API key lacks commands scope", "shared view is read-only"]):
        ws.send(json.dumps({"type": "configure", "source_id": "rig-f", "sensor": "x"}))
        assert next_of(ws, "error") == {"type": "error", "message": message}
    full, _ = browser(gateway)
    full.send(json.dumps({"type": "stop_camera", "source_id": "rig-f", "camera_id": "c"}))
    assert commands_on(dev)["command"] == "stop_camera"         # the refused ones never reached it
    for ws in readers + [full]:
        ws.close()
    dev.close()


def test_a_source_limited_key_sees_and_commands_only_its_source(gateway):
    other, _ = device(gateway, "other-1")
    mine_key = gateway.create_key(scopes="read,commands", source="mine-1")
    ws, init = browser(gateway, key=mine_key)
    assert init == {"type": "init", "online_sources": []}
    mine, _ = device(gateway, "mine-1")
    seen = frames_until(ws, lambda f: f["type"] == "source_status")
    ws.send(json.dumps({"type": "subscribe", "stream": "metrics", "source_id": "other-1"}))
    ws.send(json.dumps({"type": "subscribe", "stream": "logs", "source_id": "other-1"}))
    synced(ws)
    for i in range(2):
        other.send(json.dumps({"type": "heartbeat", "source_id": "other-1", "uptime_s": 1}))
        assert ingest(gateway, [{"metric": "secret", "value": 1}, {"metric": "log", "value": "secret"}],
                      source_id="other-1")[0] == 200
        assert ingest(gateway, [{"metric": "mine", "value": i}], source_id="mine-1")[0] == 200
        seen += frames_until(ws, lambda f, i=i: [p["value"] for p in points_of([f], "mine-1")] == [i])
    ws.send(json.dumps({"type": "configure", "source_id": "other-1", "sensor": "x"}))
    seen += frames_until(ws, lambda f: f["type"] == "error")
    assert seen[-1]["message"] == "API key is limited to another source"
    assert "other-1" not in json.dumps(seen)
    ws.send(json.dumps({"type": "configure", "source_id": "mine-1", "sensor": "x"}))
    assert commands_on(mine)["params"]["source_id"] == "mine-1"
    ws.close()
    mine.close()
    other.close()
