from plexus_core.wire import check_wire_point
from check import raises


def test_wire_point_validation():
    w = check_wire_point({"metric": "m", "value": 2, "timestamp": 1760000000})
    assert w["class"] == "metric" and w["timestamp"] == 1760000000000
    w = check_wire_point({"metric": "m", "value": 2, "timestamp": 1760000000}, rescale_seconds=False)
    assert w["timestamp"] == 1760000000
    w = check_wire_point({"metric": "m", "value": "on", "source_id": "x", "extra": 1})
    assert w["class"] == "event" and "source_id" not in w and "extra" not in w
    assert w["timestamp"] is None
    for bad in ({"metric": "m"}, {"value": 1}, {"metric": "", "value": 1},
                {"metric": "m", "value": "x", "class": "metric"},
                {"metric": "m", "value": 1, "class": "other"},
                {"metric": "m", "value": 1, "timestamp": "now"},
                {"metric": "m", "value": True, "class": "metric"},
                {"metric": "m", "value": 1, "tags": {"a": 1}},
                {"metric": "m", "value": 1, "tags": "a"},
                {"metric": "m", "value": "x" * 257}, None, [1]):
        raises(ValueError, check_wire_point, bad)


def test_hosted_acceptance_rules():
    """What the hosted gateway takes, both ends take (see docs/protocol.md)."""
    assert check_wire_point({"metric": "m", "value": ""})["value"] == ""
    assert check_wire_point({"metric": "m", "value": 1, "tags": {"": ""}})["tags"] == {"": ""}
    for ts in (0, -5, 1.5e300, 4e13):
        assert check_wire_point({"metric": "m", "value": 1, "timestamp": ts}, rescale_seconds=False)["timestamp"] == int(ts)
    wide = {}
    for i in range(100):
        wide["k%02d" % i] = "x" * 31           # 4,001 bytes compact, 4,200 with spaces
    assert check_wire_point({"metric": "m", "value": wide})["class"] == "event"
    assert check_wire_point({"metric": "m", "value": {"msg": "\u00e9" * 1300}})["class"] == "event"
    raises(ValueError, check_wire_point, {"metric": "m", "value": {"k": "x" * 4090}})      # 4,098 bytes


def test_event_size_counts_numbers_as_the_hosted_encoder_writes_them():
    from plexus_core.sizes import json_size
    assert json_size({"a": 1.0}) == len('{"a":1}')
    assert json_size([0.1, 2.5, 123456.0]) == len("[0.1,2.5,123456]")
    assert json_size([1e21, 1e-7, -0.0]) == len("[1e+21,1e-7,-0]")
    assert json_size({"t": "\u00e9", "n": [True, None, 7]}) == len('{"t":"\u00e9","n":[true,null,7]}'.encode())
    assert json_size([[1.0], {"a": [2.0, "x"]}]) == len('[[1],{"a":[2,"x"]}]')
