"""/ws/device against the real gateway: both published auth shapes, acks only
after storage and only when offered, every error and close code of
docs/protocol.md §4.8-4.9, and the batch-id extension."""

import json
import os
import signal
import time

import aiohttp
import websocket

from support import aio
from support.raw import device, next_of, point, recv, wait_for

T0 = 1760000000000


def test_016_auth_shape_gets_acks_and_the_server_time(gateway):
    before = int(time.time() * 1000)
    ws, reply = device(gateway, "rover-3")
    assert reply["type"] == "authenticated" and reply["source_id"] == "rover-3"
    assert reply["acks"] is True and reply["protocol"] == 1 and reply["max_frame_bytes"] == 1048576
    assert before <= reply["server_time_ms"] <= int(time.time() * 1000)
    ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(1), point(2)]}))
    assert next_of(ws, "telemetry_ack") == {"type": "telemetry_ack", "seq": 1}
    assert gateway.count("rover-3") == 2          # acknowledged means already stored
    ws.close()


def test_052_auth_shape_works_without_acks(gateway):
    ws = websocket.create_connection(gateway.ws_url + "/ws/device", timeout=60)
    ws.send(json.dumps({"type": "device_auth", "api_key": gateway.key, "source_id": "rover-4",
                        "platform": "python-sdk", "agent_version": "0.5.2",
                        "install_id": "5be1c0f2a9d84e07b6a1f3c2d4e5f607",
                        "commands": [{"name": "set_led", "description": "toggle LED",
                                      "params": [{"name": "on", "type": "bool", "required": True}]}]}))
    reply = recv(ws)
    assert reply["type"] == "authenticated" and "acks" not in reply and reply["server_time_ms"] > T0
    ws.send(json.dumps({"type": "telemetry", "points": [point(i) for i in range(5)]}))
    ws.send(json.dumps({"type": "heartbeat", "source_id": "rover-4", "agent_version": "0.5.2"}))
    wait_for(lambda: gateway.count("rover-4") == 5, what="points stored")
    ws.settimeout(1)
    try:
        extra = recv(ws)
    except websocket.WebSocketTimeoutException:
        extra = None
    assert extra is None          # no ack to a client that did not offer acks
    ws.close()


def refused(ws):
    err = recv(ws)
    return err, recv(ws)


def test_auth_failures_close_1008_with_the_published_messages(gateway):
    ws = websocket.create_connection(gateway.ws_url + "/ws/device", timeout=60)
    ws.send(json.dumps({"type": "telemetry", "points": []}))
    err, close = refused(ws)
    assert err == {"type": "error", "message": "first message must be device_auth"}
    assert close["code"] == 1008 and close["reason"] == "auth failed"

    ws, err = device(gateway, key="plx_wrong")
    assert err == {"type": "error", "message": "Invalid API key"} and recv(ws)["code"] == 1008

    ws, err = device(gateway, key=gateway.create_key(scopes="read"))
    assert err == {"type": "error", "message": "API key lacks write scope"} and recv(ws)["code"] == 1008

    ws, err = device(gateway, source_id="Bad Id")
    assert err["message"].startswith("invalid source_id") and recv(ws)["code"] == 1008

    ws, err = device(gateway, source_id="pump-08", key=gateway.create_key(source="pump-07"))
    assert "limited" in err["message"] and recv(ws)["code"] == 1008


def test_frame_errors_keep_the_connection(gateway):
    ws, _ = device(gateway)
    ws.send("not json")
    assert next_of(ws, "error")["code"] == "INVALID_JSON"
    ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(1), {"metric": "m", "value": None}]}))
    err = next_of(ws, "error")
    assert err["code"] == "INVALID_MESSAGE" and err["seq"] == 1 and "points[1]" in err["detail"]
    ws.send(json.dumps({"type": "nonsense"}))
    err = next_of(ws, "error")
    assert err["code"] == "INVALID_MESSAGE" and "unknown message type" in err["detail"]
    ws.send(json.dumps({"type": "telemetry", "seq": 2, "points": [point(3)]}))
    assert next_of(ws, "telemetry_ack")["seq"] == 2
    assert [p["value"] for p in gateway.points("rig-1")] == [3]   # the bad frame was not stored at all
    ws.close()


def test_websocket_timestamps_are_not_rescaled(gateway):
    ws, _ = device(gateway)
    ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [{"metric": "m", "value": 1,
                                                                   "timestamp": 1760000000}]}))
    next_of(ws, "telemetry_ack")
    assert gateway.points("rig-1")[0]["timestamp"] == 1760000000
    ws.close()


def test_acks_are_in_order_and_errors_never_overtake_them(gateway):
    ws, _ = device(gateway)
    for seq in range(1, 41):
        pts = [point(seq)] if seq % 10 else [{"metric": "m", "value": None}]
        ws.send(json.dumps({"type": "telemetry", "seq": seq, "points": pts}))
    seen = []
    while len(seen) < 40:
        f = recv(ws)
        seen.append((f["type"], f["seq"]))
    assert [s for _, s in seen] == list(range(1, 41))
    assert [s for t, s in seen if t == "error"] == [10, 20, 30, 40]
    assert gateway.count("rig-1") == 36
    ws.close()


def test_acks_reach_a_long_seq_and_a_compressed_socket(gateway):
    """Acks are written straight to the socket when they fit a short frame;
    a longer one, and a socket with permessage-deflate, go through aiohttp."""
    ws, _ = device(gateway, "rig-long")
    big = 10 ** 120
    ws.send(json.dumps({"type": "telemetry", "seq": 5, "points": [point(1)]}))
    ws.send(json.dumps({"type": "telemetry", "seq": big, "points": [point(2)]}))
    assert next_of(ws, "telemetry_ack") == {"type": "telemetry_ack", "seq": 5}
    assert next_of(ws, "telemetry_ack") == {"type": "telemetry_ack", "seq": big}
    ws.close()

    async def compressed():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(gateway.ws_url + "/ws/device", compress=15) as w:
                assert w.compress == 15  # the gateway agreed to compress
                await w.send_str(json.dumps({"type": "device_auth", "api_key": gateway.key, "source_id": "rig-z",
                                             "protocol": 1, "acks": True}))
                assert (await w.receive_json(timeout=60))["type"] == "authenticated"
                acks = []
                for seq in (1, 2, 3):
                    await w.send_str(json.dumps({"type": "telemetry", "seq": seq, "points": [point(seq)]}))
                while len(acks) < 3:
                    f = await w.receive_json(timeout=60)
                    if f["type"] == "telemetry_ack":
                        acks.append(f["seq"])
                return acks
    assert aio.run(compressed()) == [1, 2, 3]
    assert gateway.count("rig-z") == 3


def test_a_resent_batch_is_acknowledged_and_stored_once(gateway):
    ws, _ = device(gateway)
    frame = {"type": "telemetry", "seq": 1, "batch_id": "b-1", "points": [point(i) for i in range(100)]}
    ws.send(json.dumps(frame))
    next_of(ws, "telemetry_ack")
    ws.close()
    ws, _ = device(gateway)                     # reconnect, replay the same batch
    ws.send(json.dumps(frame))
    assert next_of(ws, "telemetry_ack")["seq"] == 1
    assert gateway.count("rig-1") == 100
    ws.close()


def test_heartbeat_sync_is_answered_with_the_gateway_time(gateway):
    ws, _ = device(gateway)
    ws.send(json.dumps({"type": "heartbeat", "source_id": "rig-1", "agent_version": "x", "sync": 12345}))
    f = next_of(ws, "time")
    assert f["sync"] == 12345 and abs(f["server_time_ms"] - time.time() * 1000) < 60000
    ws.close()


def test_device_error_is_stored_as_an_event(gateway):
    ws, _ = device(gateway)
    ws.send(json.dumps({"type": "device_error", "error": {"msg": "sensor gone"}, "source": "i2c"}))
    wait_for(lambda: gateway.count("rig-1") == 1, what="device.error stored")
    p = gateway.points("rig-1")[0]
    assert p["metric"] == "device.error" and p["class"] == "event" and p["tags"] == {"error_source": "i2c"}
    ws.close()


def test_control_messages_over_the_rate_limit_get_rate_limited(gateway):
    ws, _ = device(gateway)
    for _ in range(100):
        ws.send(json.dumps({"type": "heartbeat", "source_id": "rig-1", "agent_version": "x"}))
    err = next_of(ws, "error")
    assert err["code"] == "RATE_LIMITED"
    ws.close()


def test_telemetry_over_the_rate_limits_is_refused_per_frame_with_its_seq(gateway):
    ws, _ = device(gateway)
    n = 2600
    for seq in range(1, n + 1):
        ws.send(json.dumps({"type": "telemetry", "seq": seq, "points": [point(seq)]}))
    limited = stored = 0
    while limited + stored < n:
        f = recv(ws)
        if f["type"] == "error":
            assert f["code"] in ("RATE_LIMITED", "SOURCE_LIMIT") and f["seq"] > 0
            limited += 1
        else:
            stored += 1
    assert limited > 0 and gateway.count("rig-1") == stored
    ws.close()


def test_a_message_over_1_mib_closes_the_connection_1009(gateway):
    ws, _ = device(gateway)
    big = json.dumps({"type": "telemetry", "seq": 1, "points": [point(1)], "pad": "x" * (1024 * 1024)})
    try:
        ws.send(big)
        f = recv(ws)
        assert f["type"] == "close" and f["code"] == 1009
    except (ConnectionResetError, BrokenPipeError, websocket.WebSocketConnectionClosedException):
        pass  # the gateway closed before reading the rest; the reset can overtake its close frame
    assert gateway.count("rig-1") == 0
    ws, _ = device(gateway)                      # the gateway carries on
    ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(1)]}))
    assert next_of(ws, "telemetry_ack")["seq"] == 1
    ws.close()


def test_shutdown_says_goodbye_1001_after_acking_what_it_stored(gateway):
    ws, _ = device(gateway)
    ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(1)]}))
    assert next_of(ws, "telemetry_ack")["seq"] == 1
    gateway.proc.send_signal(signal.SIGTERM)
    assert recv(ws)["code"] == 1001
    gateway.proc.wait(30)
    gateway.proc = None
    assert gateway.count("rig-1") == 1


def test_an_acknowledged_batch_survives_sigkill(gateway):
    ws, _ = device(gateway)
    for seq in range(1, 21):
        ws.send(json.dumps({"type": "telemetry", "seq": seq, "points": [point(seq * 100 + i) for i in range(100)]}))
    acked = next_of(ws, "telemetry_ack")["seq"]
    os.kill(gateway.proc.pid, signal.SIGKILL)      # no goodbye, no cleanup
    gateway.proc.wait()
    gateway.proc = None
    assert gateway.count("rig-1") >= acked * 100
    gateway.start()                                  # and it starts again on the same database
    ws, _ = device(gateway)
    ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(1)]}))
    assert next_of(ws, "telemetry_ack")["seq"] == 1
    ws.close()


def test_auth_timeout_closes_1008(gateway):
    ws = websocket.create_connection(gateway.ws_url + "/ws/device", timeout=60)
    err, close = refused(ws)          # nothing sent: the gateway gives up after 10 s
    assert "device_auth" in err["message"] and close["code"] == 1008


def test_a_source_over_its_ceiling_gets_source_limit_across_reconnects(tmp_path):
    from support.gateway import Gateway
    gw = Gateway(tmp_path / "gw", args=["--source-rate", "0.01", "--source-burst", "5"]).start()
    try:
        a, _ = device(gw, "pump-1")
        for seq in range(1, 4):
            a.send(json.dumps({"type": "telemetry", "seq": seq, "points": [point(seq)]}))
            assert next_of(a, "telemetry_ack")["seq"] == seq
        a.close()
        b, _ = device(gw, "pump-1")                # the next connection shares the ceiling
        for seq in range(1, 4):
            b.send(json.dumps({"type": "telemetry", "seq": seq, "points": [point(10 + seq)]}))
        assert [recv(b)["type"] for _ in range(3)] == ["telemetry_ack", "telemetry_ack", "error"]
        other, _ = device(gw, "pump-2")            # other sources are not affected
        other.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(1)]}))
        assert next_of(other, "telemetry_ack")["seq"] == 1
        assert gw.count("pump-1") == 5
    finally:
        gw.stop()
