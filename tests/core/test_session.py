"""DeviceSession: auth, acks and the window."""

import json

from plexus_core import session as S
from plexus_core.clock import Clock
from session_util import KEY, pts, ready


def test_auth_frame_016_shape():
    s = S.DeviceSession(KEY, "rover-3", "0.1.0")
    s.commands = [{"name": "set_led"}]
    f = json.loads(s.start(0))
    assert f["type"] == "device_auth" and f["api_key"] == KEY
    assert f["source_id"] == "rover-3" and f["platform"] == "python-sdk"
    assert f["protocol"] == 1 and f["hears_goodbye"] is True and f["acks"] is True
    assert f["commands"] == [{"name": "set_led"}]
    assert s.state == S.AUTHENTICATING and not s.can_send(1)
    s2 = S.DeviceSession(KEY, "r", "0.1.0", offer_acks=False)
    assert "acks" not in json.loads(s2.start(0))
    assert "commands" not in json.loads(s2.start(0))


def test_authenticated_syncs_clock_with_rtt():
    c = Clock(lambda: 1759999990000)
    s = S.DeviceSession(KEY, "r", "v", clock=c)
    s.start(1000)
    s.receive('{"type":"authenticated","source_id":"r","server_time_ms":1760000000000,"acks":true}', 1100)
    assert s.state == S.READY and s.acks
    assert c.offset_ms == 10000 + 50


def test_acks_not_assumed_when_not_offered():
    s, _ = ready(acks=False)
    assert not s.acks and s.can_send(10 ** 6)
    f = json.loads(s.telemetry(pts(2), "b1", 20))
    assert "seq" not in f and f["batch_id"] == "b1"
    assert s.in_flight() == []


def test_seq_window_and_cumulative_ack():
    s, _ = ready()
    seqs = []
    for i in range(3):
        seqs.append(json.loads(s.telemetry(pts(2), "b%d" % i, 20))["seq"])
    assert seqs == [1, 2, 3]
    assert s.in_flight() == ["b0", "b1", "b2"]
    assert s.receive('{"type":"telemetry_ack","seq":2}', 30) == [(S.ACKED, ["b0", "b1"])]
    assert s.in_flight() == ["b2"]
    # bad seq values are ignored, never release anything
    for bad in ('{"type":"telemetry_ack","seq":true}', '{"type":"telemetry_ack","seq":"3"}',
                '{"type":"telemetry_ack","seq":0}', '{"type":"telemetry_ack"}'):
        assert s.receive(bad, 30)[0][0] == S.IGNORED
    assert s.in_flight() == ["b2"]


def test_window_bounds():
    s, _ = ready(window_frames=2, window_points=5)
    assert s.can_send(100)            # empty window takes any one batch
    s.telemetry(pts(3), "a", 0)
    assert s.can_send(2) and not s.can_send(3)
    s.telemetry(pts(2), "b", 0)
    assert not s.can_send(1)          # frame bound
    s.receive('{"type":"telemetry_ack","seq":1}', 0)
    assert s.can_send(3)


def test_the_commands_protocol_the_gateway_speaks_is_kept():
    # no "protocol": 1 means the gateway relays only typed_command (command_legacy)
    for reply, want in (({"protocol": 1}, 1), ({}, 0), ({"protocol": "1"}, 0)):
        s = S.DeviceSession(KEY, "r", "v")
        s.start(0)
        reply = dict(reply, type="authenticated", source_id="r", server_time_ms=1760000000000)
        assert s.receive(json.dumps(reply), 5)[0][0] == S.AUTHENTICATED
        assert s.protocol == want, (reply, s.protocol)
