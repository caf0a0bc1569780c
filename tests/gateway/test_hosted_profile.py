"""`plexus gateway --profile hosted-2026-08` behaves like the hosted gateway's
2026-08 snapshot, each rule against the real process: no acks, no clock-sync
reply, no batch_id dedup, no goodbye, typed_command only (with the relay's
`params.source_id`), and the silent per-source ceiling on both paths."""

import json

import pytest
import websocket

from support.gateway import Gateway
from support.raw import device, http, ingest, next_of, point, recv, wait_for


def burst(ws, frames):
    """Every frame in one TCP write, so the gateway reads them back to back."""
    ws.sock.sendall(b"".join(websocket.ABNF.create_frame(json.dumps(f), websocket.ABNF.OPCODE_TEXT).format()
                             for f in frames))


def marker(ws, seq):
    """An invalid telemetry frame: its error is queued behind every earlier frame's answer."""
    ws.send(json.dumps({"type": "telemetry", "seq": seq, "points": "not a list"}))


def test_authenticated_names_no_acks_and_no_ack_or_time_reply_ever_comes(hosted_gateway):
    ws, reply = device(hosted_gateway, "rover-1", acks=True)   # the client offers acks
    assert sorted(reply) == ["server_time_ms", "source_id", "type"]
    assert reply["type"] == "authenticated" and reply["source_id"] == "rover-1"
    ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(1), point(2)]}))
    wait_for(lambda: hosted_gateway.count("rover-1") == 2, what="points stored")
    ws.send(json.dumps({"type": "heartbeat", "sync": 12345}))
    marker(ws, 2)
    first = recv(ws)           # an ack for seq 1 or a `time` reply would come before the marker's error
    assert first["type"] == "error" and first["code"] == "INVALID_MESSAGE" and first["seq"] == 2
    ws.close()


def test_a_resent_batch_is_stored_again_on_both_paths(hosted_gateway):
    gw = hosted_gateway
    ws, _ = device(gw, "rover-2")
    ws.send(json.dumps({"type": "telemetry", "batch_id": "b-1", "points": [point(1)]}))
    wait_for(lambda: gw.count("rover-2") == 1, what="first copy stored")
    ws.send(json.dumps({"type": "telemetry", "batch_id": "b-1", "points": [point(1)]}))
    wait_for(lambda: gw.count("rover-2") == 2, what="resent copy stored")
    ws.close()
    for _ in range(2):
        assert ingest(gw, [point(5)], source_id="rover-3", batch_id="h-1") == (
            200, {"success": True, "count": 1, "source_id": "rover-3"})
    assert gw.count("rover-3") == 2


def test_shutdown_closes_device_sockets_without_a_goodbye(tmp_path):
    gw = Gateway(tmp_path / "gw", profile="hosted-2026-08").start()
    ws, _ = device(gw, "rover-5")
    ws.send(json.dumps({"type": "telemetry", "points": [point(1)]}))
    wait_for(lambda: gw.count("rover-5") == 1, what="point stored")
    gw.stop()
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        f = recv(ws)           # a close frame (1001) would come back here as {"type": "close"}
        pytest.fail("the gateway sent %r before closing" % (f,))


def test_commands_arrive_as_typed_command_with_the_relays_source_id(hosted_gateway):
    gw = hosted_gateway
    ws, _ = device(gw, "rover-6", commands=[{"name": "set_led", "params": {"on": {"type": "bool"}}},
                                             {"name": "Bad Name"}])   # v1 manifest: no invalid_command here
    status, body, _ = http(gw, "POST", "/v1/sources/rover-6/commands", {"command": "set_led", "params": {"on": True}},
                           key=gw.key)
    assert status == 200 and body["queued"] is True
    cmd = recv(ws)
    assert cmd == {"type": "typed_command", "id": body["id"], "command": "set_led",
                   "params": {"on": True, "source_id": "rover-6"}}
    ws.send(json.dumps({"type": "command_result", "id": cmd["id"], "command": "set_led", "success": True,
                        "result": {"led": "on"}}))
    got = wait_for(lambda: http(gw, "GET", "/v1/sources/rover-6/commands/" + cmd["id"], key=gw.key)[1]["events"],
                   what="result recorded")
    assert got[0]["type"] == "command_result" and got[0]["result"] == {"led": "on"}
    status, _, _ = http(gw, "POST", "/v1/sources/rover-6/runs", {"command": "set_led"}, key=gw.key)
    assert status == 404                  # no commands v1: nothing would ever send a command_run
    marker(ws, 1)
    assert next_of(ws, "error")["seq"] == 1   # nothing else (no command_run) was sent before it
    ws.close()


def test_a_telemetry_burst_loses_frames_without_a_word(hosted_gateway):
    ws, _ = device(hosted_gateway, "rover-7")
    burst(ws, [{"type": "telemetry", "seq": i + 1, "points": [point(i)]} for i in range(300)])
    marker(ws, 301)
    err = recv(ws)                        # no SOURCE_LIMIT (or any) error before the marker's
    assert err["type"] == "error" and err["seq"] == 301 and err["code"] == "INVALID_MESSAGE"
    stored = hosted_gateway.count("rover-7")
    assert 1 <= stored < 300              # frames sooner than 0.5 ms after the last one kept are gone
    ws.close()


def test_ingest_over_the_ceiling_answers_200_with_a_lower_count(tmp_path):
    gw = Gateway(tmp_path / "gw", profile="hosted-2026-08", args=["--source-rate", "0.2"]).start()  # 5 s apart
    try:
        assert ingest(gw, [point(1), point(2)], source_id="rig-a") == (
            200, {"success": True, "count": 2, "source_id": "rig-a"})
        mixed = [dict(point(3), source_id="rig-a"), dict(point(4), source_id="rig-b"),
                 dict(point(5), source_id="rig-b")]
        assert ingest(gw, mixed, source_id=None) == (200, {"success": True, "count": 2})   # rig-a's point dropped
        assert ingest(gw, [point(6)], source_id="rig-a") == (200, {"success": True, "count": 0, "source_id": "rig-a"})
        assert gw.count("rig-a") == 2 and gw.count("rig-b") == 2
        ws, _ = device(gw, "rig-b")       # the limit spans both paths: this frame is dropped too
        ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(7)]}))
        marker(ws, 2)
        assert recv(ws)["seq"] == 2 and gw.count("rig-b") == 2
        ws.close()
    finally:
        gw.stop()


def test_the_default_profile_keeps_acks_and_the_answered_source_limit(tmp_path):
    gw = Gateway(tmp_path / "gw", args=["--source-rate", "0.2", "--source-burst", "1"]).start()
    try:
        ws, reply = device(gw, "rig-c")
        assert reply["acks"] is True and reply["protocol"] == 1
        ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(1)]}))
        ws.send(json.dumps({"type": "telemetry", "seq": 2, "points": [point(2)]}))
        assert recv(ws) == {"type": "telemetry_ack", "seq": 1}
        assert recv(ws)["code"] == "SOURCE_LIMIT"
        ws.close()
        assert ingest(gw, [point(3)], source_id="rig-c")[1]["dropped"] == 1
    finally:
        gw.stop()
