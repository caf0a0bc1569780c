"""Delivery: the one policy both runtimes follow, case by case (with
test_delivery_setbacks.py, split so each module compiles in a 64K heap).

Each case feeds events to a Delivery and checks the actions. The same
modules run on CPython and inside MicroPython (tests/test_micropython.py).
"""

import json

from plexus_core import session as S  # (first: the largest to compile, while the heap is least full)
from plexus_core import delivery as D, ingest
from delivery_util import ACKING_AUTH, HOSTED_AUTH, T0, connected, kinds, make, reports
from session_util import pts


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
    acts = ingest.answered(d, 7, 3, 200, b'{"success":true,"count":3,"source_id":"rover-3"}', None, 1, T0 + 12)
    assert acts == [(D.DELETE, [7])]


def test_while_authenticating_nothing_goes_and_without_a_socket_http_does():
    d = make()
    assert d.path(T0) == D.HTTP
    d.session.start(T0)
    assert d.path(T0) is None


def test_a_client_without_a_websocket_posts_over_http():
    d = D.Delivery(None, None, lambda: 0.0, False)
    assert d.path(T0) == D.HTTP
    assert ingest.answered(d, "seg-1", 4, 200, b'{"count":4}', None, 1, T0 + 1) == [(D.REPORT, D.LINK_UP, False), (D.DELETE, ["seg-1"])]
    assert d.path(T0 + 2) is None and d.path(T0 + 3) == D.HTTP  # paced from the answer


def test_nothing_is_deleted_on_a_mere_write():
    d, _ = connected(HOSTED_AUTH)
    acts = d.post_failed(7, T0 + 20)  # written, no answer: not stored as far as anyone knows
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
    d, _ = connected(HOSTED_AUTH)
    ingest.answered(d, 1, 1, 200, b'{"count":1}', None, 0, T0 + 30)
    assert d.path(T0 + 31) is None and d.path(T0 + 32) == D.HTTP  # paced from the answer


# -- /ingest answers ----------------------------------------------------------------------

def test_a_lower_count_resends_the_batch_and_counts_nothing_rejected():
    d, _ = connected(HOSTED_AUTH)
    acts = ingest.answered(d, 9, 50, 200, b'{"success":true,"count":0,"source_id":"rover-3"}', None, 1, T0 + 12)
    assert (D.RESEND, [9]) in acts and D.DELETE not in kinds(acts)
    assert D.DROP not in kinds(acts) and D.SPLIT not in kinds(acts)
    assert D.HELD in reports(acts)


def test_dropped_in_the_answer_also_means_not_stored():
    d = make()
    assert (D.RESEND, [9]) in ingest.answered(d, 9, 50, 200, b'{"success":true,"count":0,"dropped":50}', None, 1, T0)
    assert (D.RESEND, [9]) in ingest.answered(d, 9, 50, 200, b'{"success":true,"dropped":50}', None, 1, T0 + 10)


def test_an_answer_without_count_is_all_stored():
    d = make()
    assert (D.DELETE, [3]) in ingest.answered(d, 3, 5, 204, b"", None, 1, T0)


def test_an_invalid_batch_is_split_where_the_store_can_and_dropped_where_it_cannot():
    for can_split, kind in ((True, D.SPLIT), (False, D.DROP)):
        d = make(can_split)
        acts = ingest.answered(d, 4, 10, 400, b'{"error":"points[3].value must be finite"}', None, 1, T0)
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
    assert d.path(T0 + 20 + 1000 - 1) is None
    assert d.path(T0 + 20 + 1000) == D.WS


def test_server_errors_back_off_and_keep_the_batch():
    d = make()
    acts = ingest.answered(d, 2, 1, 503, b'{"error":"gateway degraded"}', None, 1, T0)
    assert acts[0] == (D.RESEND, [2])
    # (the jitter source gives 0: the reconnect schedule's -25 %)
    assert d.path(T0 + 749) is None and d.path(T0 + 750) == D.HTTP
    d.post_failed(2, T0 + 1000)
    assert d.path(T0 + 2499) is None and d.path(T0 + 2500) == D.HTTP
