"""DeviceSession: rejections, loss, timeouts, heartbeats, pass-through."""

import json

from plexus_core import session as S
from plexus_core.clock import Clock
from session_util import KEY, pts, ready


def test_error_with_seq_rejects_that_batch_and_acks_earlier():
    s, _ = ready()
    for i in range(3):
        s.telemetry(pts(1), "b%d" % i, 0)
    ev = s.receive('{"type":"error","code":"INVALID_MESSAGE","detail":"points[0].value","seq":2}', 0)
    assert ev == [(S.ACKED, ["b0"]), (S.REJECTED, "b1", "INVALID_MESSAGE", "points[0].value")]
    assert s.in_flight() == ["b2"]
    ev = s.receive('{"type":"error","code":"REDIS_UNAVAILABLE"}', 0)
    assert ev == [(S.ERROR, "REDIS_UNAVAILABLE", "")]
    assert s.in_flight() == ["b2"]


def test_lost_returns_unacked_and_resets_seq():
    s, _ = ready()
    s.telemetry(pts(1), "x", 0)
    s.telemetry(pts(1), "y", 0)
    assert s.lost() == ["x", "y"]
    assert s.state == S.CLOSED and not s.can_send(1)
    s.start(0)
    s.receive('{"type":"authenticated","acks":true,"server_time_ms":1}', 0)
    assert json.loads(s.telemetry(pts(1), "x", 0))["seq"] == 1


def test_unsend_after_failed_write():
    s, _ = ready()
    s.telemetry(pts(1), "a", 0)
    s.telemetry(pts(4), "b", 0)
    s.unsend("b")
    assert s.in_flight() == ["a"]
    assert json.loads(s.telemetry(pts(1), "c", 0))["seq"] == 2


def test_auth_failure_and_timeout():
    s = S.DeviceSession(KEY, "r", "v")
    s.start(0)
    assert not s.auth_overdue(9999) and s.auth_overdue(10000)
    ev = s.receive('{"type":"error","message":"Invalid API key"}', 5)
    assert ev == [(S.AUTH_FAILED, "Invalid API key", None)]
    s.start(0)
    ev = s.receive('{"type":"error","code":"streaming_requires_plan"}', 5)
    assert ev[0][0] == S.AUTH_FAILED and ev[0][2] == "streaming_requires_plan"


def test_ack_watchdog():
    s, _ = ready()
    assert not s.ack_overdue(10 ** 9)
    s.telemetry(pts(1), "a", 1000)
    assert not s.ack_overdue(30999) and s.ack_overdue(31000)


def test_heartbeat_and_time_refresh():
    c = Clock(lambda: 1000000)
    s, _ = ready(clock=c)
    assert s.heartbeat(20) is None
    hb = json.loads(s.heartbeat(30010))
    assert hb["type"] == "heartbeat" and hb["source_id"] == "rover-3" and hb["sync"] == 30010
    assert "api_key" not in hb
    assert s.heartbeat(30011) is None
    s.receive(json.dumps({"type": "time", "sync": 30010, "server_time_ms": 2000000}), 30030)
    assert c.offset_ms == 1000000 + 10
    # a stale or unsolicited reply changes nothing
    s.receive(json.dumps({"type": "time", "sync": 1, "server_time_ms": 9000000}), 30040)
    assert c.offset_ms == 1000010


def test_commands_and_junk_pass_through():
    s, _ = ready()
    ev = s.receive('{"type":"typed_command","id":"1","command":"x"}', 0)
    assert ev[0][0] == S.COMMAND and ev[0][1]["command"] == "x"
    assert s.receive("not json", 0)[0][0] == S.IGNORED
    assert s.receive("[1,2]", 0)[0][0] == S.IGNORED
    assert s.receive('{"type":"authenticated"}', 0)[0][0] == S.IGNORED  # not expected now
