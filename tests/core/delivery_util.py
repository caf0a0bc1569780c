"""Shared set-up for the delivery tests (test_delivery_*.py)."""

from plexus_core import delivery as D, session as S
from session_util import KEY

T0 = 1000000
HOSTED_AUTH = '{"type":"authenticated","source_id":"rover-3","server_time_ms":1760000000000}'
ACKING_AUTH = '{"type":"authenticated","source_id":"rover-3","acks":true,"server_time_ms":1760000000000}'


def make(can_split=True, clock=None):
    s = S.DeviceSession(KEY, "rover-3", "0.1.0", clock=clock)
    return D.Delivery(s, clock, lambda: 0.0, can_split)


def connected(reply, can_split=True):
    d = make(can_split)
    d.session.start(T0)
    return d, d.receive(reply, T0 + 5)


def kinds(acts):
    return [a[0] for a in acts]


def reports(acts):
    return [a[1] for a in acts if a[0] == D.REPORT]
