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
