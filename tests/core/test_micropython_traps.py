"""Traps that bite only on boards. Each test fails if the core falls into one."""

import sys

from plexus_core.source_id import is_valid_source_id


def test_counted_repetition_regex_is_a_trap():
    # On MicroPython `{1,62}` is literal text, so a 0.5.2-style regex rejects
    # a perfectly good id. Show the trap where re exists, then show the core
    # does not fall into it.
    try:
        import re
    except ImportError:
        re = None
    if re is not None and sys.implementation.name == "micropython":
        assert re.match("^[a-z0-9][a-z0-9_-]{1,62}$", "pump-07") is None
    assert is_valid_source_id("pump-07")


def test_bool_is_not_a_number_on_either_runtime():
    from plexus_core.points import make_point
    # MicroPython: isinstance(True, int) is False; CPython: True. Both must
    # still treat bools as events.
    assert make_point("b", True, 1760000000000)["class"] == "event"


def test_dict_order_is_not_relied_on():
    import json
    from plexus_core.points import make_point, encode_point
    p = make_point("m", {"z": 1, "a": 2, "m": 3}, 1760000000000, {"b": "1", "a": "2"})
    back = json.loads(encode_point(p))
    assert back == p and back["value"] == {"a": 2, "m": 3, "z": 1}


def test_large_timestamps_stay_exact_ints():
    # ms epochs exceed 31-bit small ints on boards; they must not become floats.
    from plexus_core.points import normalize_timestamp
    ts = normalize_timestamp(1760000000123, None)
    assert type(ts) is int and ts == 1760000000123
    assert ts + 1 == 1760000000124
