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
