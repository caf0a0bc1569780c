"""Delivery after setbacks: the link going and coming back, refused keys
and plans, closes, and the clock from the Date header (the rest of the
table is test_delivery_policy.py)."""

from plexus_core import delivery as D
from delivery_util import ACKING_AUTH, HOSTED_AUTH, T0, connected, make, reports


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
    from plexus_core import ingest
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
    acts = ingest.answered(d, 1, 1, 401, b'{"error":"invalid API key"}', None, 1, T0)
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
    assert acts[-1] == (D.RECONNECT, 600000)
    assert d.path(T0) == D.HTTP and not d.connect_due(T0 + 600000 - 1)


def test_goodbye_comes_back_within_half_a_second():
    d, _ = connected(ACKING_AUTH)
    acts = d.closed(1001, T0 + 10)
    assert acts[-1] == (D.RECONNECT, 100)
    assert d.connect_due(T0 + 110) and not d.connect_due(T0 + 109)


def test_commands_pass_through():
    d, _ = connected(HOSTED_AUTH)
    acts = d.receive('{"type":"typed_command","id":"c1","command":"blink"}', T0 + 10)
    assert acts[0][0] == D.COMMAND and acts[0][1]["id"] == "c1"


# -- the clock from the HTTP Date header ------------------------------------------------------

def test_the_date_header_fixes_a_clock_off_by_more_than_a_second_only_without_a_socket_sync():
    from plexus_core import ingest
    from plexus_core.clock import Clock
    wall = [1760000000000]
    clock = Clock(lambda: wall[0])
    d = make(clock=clock)
    ingest.answered(d, 1, 1, 200, b'{"count":1}', 1760000100000, 10, T0)  # the gateway is 100 s ahead
    assert clock.offset_ms == 100000 + 500 + 5
    ingest.answered(d, 1, 1, 200, b'{"count":1}', 1760000100000, 10, T0 + 10)  # within a second: kept
    assert clock.offset_ms == 100505
    clock.sample(1760000000000, 2)  # a WebSocket sample is finer: Date is ignored after it
    off = clock.offset_ms
    ingest.answered(d, 1, 1, 200, b'{"count":1}', 1760009000000, 10, T0 + 20)
    assert clock.offset_ms == off
