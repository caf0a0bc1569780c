"""The board client's API without a gateway, inside MicroPython: bad input
raises at the call naming what to fix, CPython-only features name the
CPython package, readings wait on flash. (tests/board/test_board_api.py)"""

import json
import os
import time

from plexus_board.client import Plexus
from plexus_core.errors import NotOnBoardError, PlexusError

NOWHERE = "http://127.0.0.1:9"  # nothing listens there
_n = [0]


def store():
    _n[0] += 1
    return "/tmp/plexus-api-%d-%d" % (time.ticks_us(), _n[0])


def client(**kw):
    return Plexus("plx_test", "api-board", NOWHERE, store=store(), **kw)


def refused(exc, fn, *words):
    try:
        fn()
    except exc as e:
        text = str(e)
        for w in words:
            assert w in text, (w, text)
        return text
    raise AssertionError("accepted")


def test_bad_settings_name_the_argument():
    refused(ValueError, lambda: Plexus("plx_k", "Bad Id", NOWHERE, store=store()), "source_id")
    refused(ValueError, lambda: Plexus("", "dev-1", NOWHERE, store=store()), "api_key")
    refused(ValueError, lambda: Plexus("plx_k", "dev-1", "ftp://x", store=store()), "gateway_url")
    refused(ValueError, lambda: Plexus("plx_k", "dev-1", "http://h:port", store=store()), "port")
    refused(ValueError, lambda: client(transport="mqtt"), "transport")
    refused(ValueError, lambda: client(timeout=0), "timeout")
    refused(ValueError, lambda: client(linger_ms=-1), "linger_ms")
    refused(ValueError, lambda: client(segment_bytes=10), "segment_bytes")
    refused(NotOnBoardError, lambda: client(buffer_path="/x.db"), "SQLite", "store=")
    refused(TypeError, lambda: client(colour="red"), "colour")


def test_bad_readings_raise_and_queue_nothing():
    px = client()
    refused(ValueError, lambda: px.send("t", float("nan")), "finite")
    refused(ValueError, lambda: px.send("", 1), "metric")
    refused(ValueError, lambda: px.send("t", 1, tags={"k%d" % i: "v" for i in range(17)}), "16")
    refused(ValueError, lambda: px.send_batch([("a", 1), ("b", float("inf"))]), "finite")
    assert px.buffer_size() == 0


def staged(px):
    return bytes(px._log._buf[:px._log._n]).decode()


def test_plain_numbers_encode_as_the_point_model_does():
    # send() takes a short cut for a plain number stamped now; it must give
    # the text points.make_point + encode_point give, and load neither.
    import sys
    sys.modules.pop("plexus_core.points", None)
    px = client(segment_bytes=65535)  # all of it stays staged in RAM
    px._clock._wall = lambda: 1760000000123
    values = (0, -5, 21.5, -0.0, 1e300, 1e-300, 0x3FFFFFFF, -0x3FFFFFFF)
    names = ("temp", "t\u00e9mp\u00e9rature", "x" * 64, "\U0001f600" * 64)
    sent = []
    for name in names:
        for v in values:
            px.send(name, v)
            sent.append((name, v))
    assert "plexus_core.points" not in sys.modules
    from plexus_core.points import encode_point, make_point
    want = ",".join(encode_point(make_point(n, v, 1760000000123)) for n, v in sent)
    assert staged(px) == want
    # what the short cut does not take still meets every rule
    refused(ValueError, lambda: px.send("\U0001f600" * 65, 1), "256")
    refused(ValueError, lambda: px.send("t", float("-inf")), "finite")
    before = px.buffer_size()
    px.send("big", 2 ** 70)
    px.send("flag", True)
    assert px.buffer_size() == before + 2
    assert staged(px).endswith(",".join((encode_point(make_point("big", 2 ** 70, 1760000000123)),
                                         encode_point(make_point("flag", True, 1760000000123)))))


def test_readings_wait_on_flash_while_the_gateway_is_away():
    px = client(timeout=0.5)
    px.send("temp", 21.5)
    px.event("state", {"to": "RUN"}, tags={"line": "b"})
    px.send_batch([("a", 1), ("b", 2, 1760000000000)])
    assert px.buffer_size() == 4
    assert px.flush(0.5) is False  # nobody listens: kept, not lost
    assert px.buffer_size() == 4 and px.last_error and "plx_test" not in px.last_error
    segs = [f for f in os.listdir(px._log.path) if f.endswith(".seg")]
    assert len(segs) == 1
    px.close()
    px2 = Plexus("plx_test", "api-board", NOWHERE, store=px._log.path)
    assert px2.buffer_size() == 4  # the next start finds them


def test_run_marks_its_start_and_end():
    px = client()
    with px.run("hotfire-03", tags={"rig": "2"}):
        px.send("thrust", 12.5)
    try:
        with px.run("hotfire-04"):
            raise KeyError("valve")
    except KeyError:
        pass
    px.persist()
    seq = px._log.seqs[-1]
    from plexus_board.flashlog import HEAD  # read the segment back
    with open("%s/%08x.seg" % (px._log.path, seq), "rb") as f:
        data = f.read()
    pts = json.loads("[" + data[HEAD + data[3]:].decode() + "]")
    runs = [(p["value"]["name"], p["value"]["status"]) for p in pts if p["metric"] == "run"]
    assert runs == [("hotfire-03", "started"), ("hotfire-03", "completed"),
                    ("hotfire-04", "started"), ("hotfire-04", "aborted")]
    assert pts[0]["tags"] == {"rig": "2"} and pts[0]["class"] == "event"


def test_cpython_only_features_say_so():
    px = client()
    refused(NotOnBoardError, lambda: px.send_video_frame(b"jpeg"), "CPython", "video")
    refused(NotOnBoardError, lambda: px.stream_camera("rtsp://cam"), "CPython")
    refused(NotOnBoardError, lambda: client(transport="http").command(lambda run: 1), "transport='ws'")


def test_a_closed_client_refuses_readings():
    px = client(timeout=0.2)
    px.close()
    refused(PlexusError, lambda: px.send("t", 1), "closed")
