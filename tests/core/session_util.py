"""Shared set-up for the session tests."""
import json

from plexus_core import session as S


KEY = "plx_secret"


def pts(n):
    # pre-encoded points: the session never looks inside them
    return ['{"class":"metric","metric":"m","value":%d,"timestamp":%d}' % (i, 1760000000000 + i)
            for i in range(n)]


def ready(acks=True, clock=None, **kw):
    s = S.DeviceSession(KEY, "rover-3", "0.1.0", clock=clock, **kw)
    auth = json.loads(s.start(0))
    reply = {"type": "authenticated", "source_id": "rover-3", "server_time_ms": 1760000000000}
    if acks:
        reply["acks"] = True
    ev = s.receive(json.dumps(reply), 10)
    assert ev[0][0] == S.AUTHENTICATED
    return s, auth

