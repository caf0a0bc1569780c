import json

from plexus_core.points import (make_point, encode_point, normalize_timestamp,
                                check_tags, METRIC, EVENT)
from check import raises, message, needs_double

T = 1760000000123


def now():
    return T


def test_metric_point():
    p = make_point("coolant.temp_c", 81.4, T)
    assert p == {"class": "metric", "metric": "coolant.temp_c", "value": 81.4, "timestamp": T}
    assert make_point("n", 3, T)["class"] == METRIC


def test_class_inference():
    assert make_point("s", "IDLE", T)["class"] == EVENT
    assert make_point("b", True, T)["class"] == EVENT       # bool is not a number
    assert make_point("b", False, T)["value"] is False
    assert make_point("o", {"a": 1}, T)["class"] == EVENT
    assert make_point("l", [1, 2], T)["class"] == EVENT
    assert make_point("n", 5, T, data_class="event")["class"] == EVENT


def test_explicit_metric_needs_number():
    for v in ("x", True, {"a": 1}, [1]):
        e = raises(ValueError, make_point, "m", v, T, None, "metric")
        assert "event()" in message(e)
    raises(ValueError, make_point, "m", 1, T, None, "bogus")


def test_non_finite_rejected():
    for v in (float("nan"), float("inf"), -float("inf")):
        e = raises(ValueError, make_point, "m", v, T)
        assert "finite" in message(e)
    raises(ValueError, make_point, "m", {"x": float("nan")}, T)
    raises(ValueError, make_point, "m", [1, [float("inf")]], T)


def test_none_and_bad_types():
    e = raises(ValueError, make_point, "m", None, T)
    assert "None" in message(e)
    raises(ValueError, make_point, "m", b"raw", T)
    raises(ValueError, make_point, "m", {"k": b"raw"}, T)
    raises(ValueError, make_point, "m", {1: "int key"}, T)
    raises(ValueError, make_point, "m", object(), T)
    raises(ValueError, make_point, "m", {"s": {1, 2}}, T)


def test_metric_name_rules():
    raises(ValueError, make_point, "", 1, T)
    raises(ValueError, make_point, None, 1, T)
    raises(ValueError, make_point, 5, 1, T)
    assert make_point("m" * 256, 1, T)
    e = raises(ValueError, make_point, "m" * 257, 1, T)
    assert "256" in message(e)
    # 256 bytes, not characters: 129 two-byte characters are 258 bytes
    raises(ValueError, make_point, "é" * 129, 1, T)
    assert make_point("é" * 128, 1, T)


def test_string_event_limit():
    assert make_point("s", "x" * 256, T)
    raises(ValueError, make_point, "s", "x" * 257, T)
    raises(ValueError, make_point, "s", "é" * 129, T)


def test_event_object_limit():
    small = {"msg": "x" * 4000}
    assert make_point("e", small, T)
    e = raises(ValueError, make_point, "e", {"msg": "x" * 4100}, T)
    assert "4096" in message(e)


def test_deep_nesting_rejected():
    v = 1
    for _ in range(40):
        v = [v]
    raises(ValueError, make_point, "e", v, T)


def test_tags():
    p = make_point("m", 1, T, {"line": "B"})
    assert p["tags"] == {"line": "B"}
    assert "tags" not in make_point("m", 1, T, {})
    assert "tags" not in make_point("m", 1, T, None)
    many = {}
    for i in range(16):
        many["k%d" % i] = "v"
    assert check_tags(many) == many
    many["k16"] = "v"
    e = raises(ValueError, check_tags, many)
    assert "16" in message(e)
    raises(ValueError, check_tags, {"k": 1})
    raises(ValueError, check_tags, {1: "v"})
    raises(ValueError, check_tags, {"k": "v" * 257})
    assert check_tags({"": ""}) == {"": ""}   # empty key and value: the hosted gateway takes them
    raises(ValueError, check_tags, ["k", "v"])


def test_timestamp_units():
    assert normalize_timestamp(None, now) == T
    assert normalize_timestamp(1760000000, now) == 1760000000000          # s
    assert type(normalize_timestamp(1760000000, now)) is int               # int s stay ints
    assert normalize_timestamp(1760000000123, now) == 1760000000123       # ms
    assert normalize_timestamp(1760000000123456, now) == 1760000000123    # µs
    assert normalize_timestamp(1760000000123456789, now) == 1760000000123  # ns
    assert type(normalize_timestamp(1760000000.5, now)) is int


def test_timestamp_float_seconds_to_the_ms():
    needs_double("a float of epoch seconds resolves to ~128 s in single precision")
    assert normalize_timestamp(1760000000.123, now) == 1760000000123


def test_timestamp_rejects():
    for ts in (0, -5, float("nan"), float("inf"), "1760000000", True, [1]):
        raises(ValueError, normalize_timestamp, ts, now)


def test_encode_roundtrip_independent_of_key_order():
    p = make_point("m", 1.5, T, {"a": "b"})
    s = encode_point(p)
    assert json.loads(s) == p      # compare parsed, never as strings
    assert " " not in s


def test_the_client_takes_what_the_hosted_gateway_takes():
    from plexus_core.points import point_timestamp
    assert make_point("m", "", T)["value"] == ""
    assert make_point("m", 1, T, {"": ""})["tags"] == {"": ""}
    assert make_point("m", {"msg": "\u00e9" * 1300}, T)["class"] == "event"     # 2,610 bytes compact
    assert [point_timestamp(t, None) for t in (0, -1, 4e13, 1.5e15)] == [0, -1000, 40000000000000, 1500000000000]
    raises(ValueError, point_timestamp, float("nan"), None)
    raises(ValueError, make_point, "", 1, T)                                       # a metric name is never empty
