"""Delivery: the one policy both runtimes follow, case by case.

Each case feeds events to a Delivery and checks the actions. The same
module runs on CPython and inside MicroPython (tests/test_micropython.py).
"""

import json

from plexus_core import delivery as D, session as S
from plexus_core.clock import Clock
from session_util import KEY, pts

T0 = 1000000
HOSTED_AUTH = '{"type":"authenticated","source_id":"rover-3","server_time_ms":1760000000000}'
ACKING_AUTH = '{"type":"authenticated","source_id":"rover-3","acks":true,"server_time_ms":1760000000000}'


def make(can_split=True, clock=None):
    s = S.DeviceSession(KEY, "rover-3", "0.1.0", clock=clock)
    return D.Delivery(s, lambda: 0.0, can_split)


def connected(reply, can_split=True):
    d = make(can_split)
    d.session.start(T0)
    return d, d.receive(reply, T0 + 5)


def kinds(acts):
    return [a[0] for a in acts]


def reports(acts):
    return [a[1] for a in acts if a[0] == D.REPORT]


# -- where telemetry goes ---------------------------------------------------------------

def test_a_gateway_with_acks_gets_telemetry_on_the_socket_and_deletes_on_ack():
    d, acts = connected(ACKING_AUTH)
    assert kinds(acts) == [D.REPORT, D.READY] and reports(acts) == [D.LINK_UP]
    assert d.path(T0 + 10) == D.WS
    text = d.frame(pts(3), "b-1", 41, 3, T0 + 10)
    assert json.loads(text)["seq"] == 1
    assert d.session.in_flight() == [41]  # the storage key rides in the window
    assert d.receive('{"type":"telemetry_ack","seq":1}', T0 + 20) == [(D.DELETE, [41])]


def test_a_gateway_without_acks_gets_telemetry_over_http_and_keeps_the_socket():
    d, acts = connected(HOSTED_AUTH)
    assert D.READY in kinds(acts)
    assert d.session.state == S.READY      # the socket stays for commands and heartbeats
    assert d.path(T0 + 10) == D.HTTP       # never a telemetry frame nobody confirms
    d.post(7, 3, T0 + 10)
    acts = d.posted(200, b'{"success":true,"count":3,"source_id":"rover-3"}', None, 1, T0 + 12)
    assert acts == [(D.DELETE, [7])]


def test_while_authenticating_nothing_goes_and_without_a_socket_http_does():
    d = make()
    assert d.path(T0) == D.HTTP
    d.session.start(T0)
    assert d.path(T0) is None


def test_nothing_is_deleted_on_a_mere_write():
    d, _ = connected(HOSTED_AUTH)
    d.post(7, 3, T0 + 10)
    acts = d.post_failed(T0 + 20)  # written, no answer: not stored as far as anyone knows
    assert acts[0] == (D.RESEND, [7]) and D.DELETE not in kinds(acts)
    d, _ = connected(ACKING_AUTH)
    d.frame(pts(2), "b-1", 1, 2, T0 + 10)
    acts = d.lost(T0 + 20)
    assert acts[0] == (D.RESEND, [1]) and D.DELETE not in kinds(acts)


# -- pacing -------------------------------------------------------------------------------

def test_two_messages_of_one_source_are_never_less_than_a_ms_apart():
    d, _ = connected(ACKING_AUTH)
    d.frame(pts(1), "a", 1, 1, T0 + 10)
    assert d.path(T0 + 10) is None and d.path(T0 + 11) is None
    assert d.path(T0 + 12) == D.WS
    assert d.wait_ms(T0 + 10) == 2
    d, _ = connected(HOSTED_AUTH)
    d.post(1, 1, T0 + 10)
    d.posted(200, b'{"count":1}', None, 0, T0 + 30)
    assert d.path(T0 + 31) is None and d.path(T0 + 32) == D.HTTP  # paced from the answer


# -- /ingest answers ----------------------------------------------------------------------

def test_a_lower_count_resends_the_batch_and_counts_nothing_rejected():
    d, _ = connected(HOSTED_AUTH)
    d.post(9, 50, T0 + 10)
    acts = d.posted(200, b'{"success":true,"count":0,"source_id":"rover-3"}', None, 1, T0 + 12)
    assert (D.RESEND, [9]) in acts and D.DELETE not in kinds(acts)
    assert D.DROP not in kinds(acts) and D.SPLIT not in kinds(acts)
    assert D.HELD in reports(acts)


def test_dropped_in_the_answer_also_means_not_stored():
    d = make()
    d.post(9, 50, T0)
    assert (D.RESEND, [9]) in d.posted(200, b'{"success":true,"count":0,"dropped":50}', None, 1, T0)
    d.post(9, 50, T0 + 10)
    assert (D.RESEND, [9]) in d.posted(200, b'{"success":true,"dropped":50}', None, 1, T0 + 10)


def test_an_answer_without_count_is_all_stored():
    d = make()
    d.post(3, 5, T0)
    assert (D.DELETE, [3]) in d.posted(204, b"", None, 1, T0)


def test_an_invalid_batch_is_split_where_the_store_can_and_dropped_where_it_cannot():
    for can_split, kind in ((True, D.SPLIT), (False, D.DROP)):
        d = make(can_split)
        d.post(4, 10, T0)
        acts = d.posted(400, b'{"error":"points[3].value must be finite"}', None, 1, T0)
        assert acts == [(kind, 4, "HTTP 400: points[3].value must be finite")]
        d, _ = connected(ACKING_AUTH, can_split)
        d.frame(pts(2), "b", 5, 2, T0 + 10)
        acts = d.receive('{"type":"error","code":"INVALID_MESSAGE","detail":"bad","seq":1}', T0 + 20)
        assert acts == [(kind, 5, "INVALID_MESSAGE: bad")]


def test_a_frame_refused_for_a_limit_is_held_and_resent():
    d, _ = connected(ACKING_AUTH)
    d.frame(pts(2), "b", 5, 2, T0 + 10)
    acts = d.receive('{"type":"error","code":"RATE_LIMITED","seq":1}', T0 + 20)
    assert acts == [(D.RESEND, [5]), (D.REPORT, D.HELD, "RATE_LIMITED")]
    assert d.path(T0 + 20 + D.LIMIT_HOLD_MS - 1) is None
    assert d.path(T0 + 20 + D.LIMIT_HOLD_MS) == D.WS


def test_server_errors_back_off_and_keep_the_batch():
    d = make()
    d.post(2, 1, T0)
    acts = d.posted(503, b'{"error":"gateway degraded"}', None, 1, T0)
    assert acts[0] == (D.RESEND, [2])
    # (the jitter source gives 0: the reconnect schedule's -25 %)
    assert d.path(T0 + 749) is None and d.path(T0 + 750) == D.HTTP
    d.post(2, 1, T0 + 1000)
    d.post_failed(T0 + 1000)
    assert d.path(T0 + 2499) is None and d.path(T0 + 2500) == D.HTTP


# -- the link going and coming back ---------------------------------------------------------

def test_link_changes_are_reported_once_each_not_per_retry():
    d, acts = connected(ACKING_AUTH)
    assert (D.REPORT, D.LINK_UP, False) in acts  # the first time: "connected"
    acts = d.lost(T0 + 10)
    assert (D.REPORT, D.LINK_DOWN, "") in acts
    for i in range(3):
        d.session.start(T0 + 100 * i)
        assert D.LINK_DOWN not in reports(d.lost(T0 + 100 * i + 1))
    d.session.start(T0 + 500)
    acts = d.receive(ACKING_AUTH, T0 + 505)
    assert (D.REPORT, D.LINK_UP, True) in acts      # "back"
    d = make()
    assert D.LINK_DOWN not in reports(d.lost(T0))  # never up: nothing to lose


# -- auth, plan and closes ------------------------------------------------------------------

def test_a_refused_key_backs_off_one_minute_doubling_to_thirty_on_both_paths():
    d = make()
    waits = []
    for i in range(8):
        d.session.start(T0)
        acts = d.receive('{"type":"error","message":"Invalid API key"}', T0)
        assert D.KEY_REFUSED in reports(acts)
        waits.append(acts[-1][1])
    assert waits == [60000, 120000, 240000, 480000, 960000, 1800000, 1800000, 1800000]
    assert d.path(T0 + 1799999) is None  # HTTP waits as long
    d = make()
    d.post(1, 1, T0)
    acts = d.posted(401, b'{"error":"invalid API key"}', None, 1, T0)
    assert (D.RESEND, [1]) in acts and D.KEY_REFUSED in reports(acts)
    assert d.path(T0 + 59999) is None and d.path(T0 + 60000) == D.HTTP


def test_a_1008_close_during_auth_is_a_refused_key():
    d = make()
    d.session.start(T0)
    acts = d.closed(1008, T0 + 5)
    assert D.KEY_REFUSED in reports(acts) and acts[-1] == (D.RECONNECT, 60000)
    d, _ = connected(ACKING_AUTH)
    acts = d.closed(1008, T0 + 10)  # after auth: just a lost connection
    assert D.KEY_REFUSED not in reports(acts) and acts[-1] == (D.RECONNECT, 750)


def test_streaming_requires_plan_sends_over_http_and_asks_again_later():
    d = make()
    d.session.start(T0)
    acts = d.receive('{"type":"error","code":"streaming_requires_plan","message":"upgrade"}', T0)
    assert D.NO_PLAN in reports(acts) and D.KEY_REFUSED not in reports(acts)
    assert acts[-1] == (D.RECONNECT, D.NO_PLAN_RETRY_MS)
    assert d.path(T0) == D.HTTP and not d.connect_due(T0 + D.NO_PLAN_RETRY_MS - 1)


def test_goodbye_comes_back_within_half_a_second():
    d, _ = connected(ACKING_AUTH)
    acts = d.closed(1001, T0 + 10)
    assert acts[-1] == (D.RECONNECT, 100)
    assert d.connect_due(T0 + 110) and not d.connect_due(T0 + 109)


def test_overdue_auth_and_acks():
    d = make()
    d.session.start(T0)
    assert d.overdue(T0 + 9999) is None and d.overdue(T0 + 10000) == "no answer to device_auth"
    d, _ = connected(ACKING_AUTH)
    d.frame(pts(1), "b", 1, 1, T0 + 10)
    assert d.overdue(T0 + 30010) == "acknowledgements overdue"


def test_commands_pass_through():
    d, _ = connected(HOSTED_AUTH)
    acts = d.receive('{"type":"typed_command","id":"c1","command":"blink"}', T0 + 10)
    assert acts[0][0] == D.COMMAND and acts[0][1]["id"] == "c1"


# -- the clock from the HTTP Date header ------------------------------------------------------

def test_the_date_header_fixes_a_clock_off_by_more_than_a_second_only_without_a_socket_sync():
    wall = [1760000000000]
    clock = Clock(lambda: wall[0])
    d = make(clock=clock)
    d.post(1, 1, T0)
    d.posted(200, b'{"count":1}', 1760000100000, 10, T0)  # the gateway is 100 s ahead
    assert clock.offset_ms == 100000 + 500 + 5
    d.post(1, 1, T0 + 10)
    d.posted(200, b'{"count":1}', 1760000100000, 10, T0 + 10)  # within a second: kept
    assert clock.offset_ms == 100505
    clock.sample(1760000000000, 2)  # a WebSocket sample is finer: Date is ignored after it
    off = clock.offset_ms
    d.post(1, 1, T0 + 20)
    d.posted(200, b'{"count":1}', 1760009000000, 10, T0 + 20)
    assert clock.offset_ms == off
