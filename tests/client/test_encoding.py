"""The CPython fast path of encode_point writes exactly what json.dumps writes."""

import json

from hypothesis import given, settings, strategies as st

from plexus_core.points import encode_point, make_point

names = st.text(min_size=1, max_size=40).filter(lambda s: len(s.encode()) <= 256)
numbers = st.one_of(st.integers(-2 ** 70, 2 ** 70),
                    st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=500, deadline=None)
@given(names, numbers, st.integers(1, 32503680000) | st.integers(10 ** 12, 32503680000000))  # s or ms, up to 3000
def test_fast_path_is_byte_identical_to_json(metric, value, ts):
    p = make_point(metric, value, ts)
    assert encode_point(p) == json.dumps(p, separators=(",", ":"))
    assert json.loads(encode_point(p)) == p


def test_other_points_take_the_general_path():
    for p in (make_point("m", 1.5, 1760000000000, {"a": "b"}),
              make_point("m", "on", 1760000000000),
              make_point("m", 2, 1760000000000, None, "event")):
        assert encode_point(p) == json.dumps(p, separators=(",", ":"))


@settings(max_examples=200, deadline=None)
@given(names, numbers)
def test_send_writes_the_same_text_as_encode_point(tmp_path_factory, metric, value):
    """send()'s short path (a number now, no tags) against the general one."""
    import socket

    from plexus import Plexus
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: the readings stay in the store
    home = tmp_path_factory.mktemp("send")
    px = Plexus(api_key="plx_test", source_id="enc-1", ws_url="ws://127.0.0.1:%d" % port,
                buffer_path=str(home / "b.db"))
    try:
        px.send(metric, value)  # the general path, which checks and remembers the name
        px.send(metric, value)  # the short path
        assert px.persist(30)
        data = ",".join(r[3] for r in px._store.rows(limit=100))
        last = json.loads("[" + data + "]")[-1]
        assert data.endswith("," + encode_point(make_point(metric, value, last["timestamp"])))
    finally:
        px.close()
