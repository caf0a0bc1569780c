"""plexus_core.wire's fast path for plain metrics against its full rules
(a module of its own: the 64K heap holds it apart from test_wire's cases)."""

from plexus_core.wire import check_wire_point


def _full_path(p, rescale):
    """check_wire_point with its fast path switched off: the rules alone."""
    from plexus_core import wire
    fast = wire._plain_metric
    wire._plain_metric = lambda p: None
    try:
        return _answer(p, rescale)
    finally:
        wire._plain_metric = fast


def _answer(p, rescale):
    try:
        return check_wire_point(p, rescale_seconds=rescale)
    except ValueError as e:
        return "ValueError: %s" % e


def _table():
    """Points around every edge the fast path decides on (made one by one: a
    board's heap holds no list of thousands)."""
    ms = 1760000000000
    for metric in ("m", "", "x" * 64, "x" * 65, "\u00e9" * 64, "\u00e9" * 129, 5, None):
        for value in (1, 0, -3, 21.5, -0.0, 1e308, -1e308, 1.7976931348623157e308, 2 ** 70, 2 ** 1100,
                      float("nan"), float("inf"), True, False, None, "on", "", [1], {"a": 1}):
            for ts in (ms, 1e12, 999999999999, 1000000000000, 32503680000000, 32503680000001, 0, -5, 1.5,
                       float(ms), float("nan"), None, True, "now"):
                yield {"metric": metric, "value": value, "timestamp": ts}
                yield {"class": "metric", "metric": metric, "value": value, "timestamp": ts}
    for p in ({"class": "event", "metric": "m", "value": 1, "timestamp": ms},
              {"class": "other", "metric": "m", "value": 1, "timestamp": ms},
              {"class": None, "metric": "m", "value": 1, "timestamp": ms},
              {"metric": "m", "value": 1, "tags": {"a": "b"}},
              {"metric": "m", "value": 1, "timestamp": ms, "tags": {"a": "b"}},
              {"metric": "m", "value": 1, "timestamp": ms, "tags": {}},
              {"metric": "m", "value": 1, "timestamp": ms, "source_id": "x"},
              {"class": "metric", "metric": "m", "value": 1, "timestamp": ms, "source_id": "x"},
              {"metric": "m", "value": 1, "source_id": "x"},
              {"metric": "m", "timestamp": ms, "source_id": "x"},
              {"value": 1, "timestamp": ms, "source_id": "x"},
              {"class": "metric", "value": 1, "timestamp": ms, "source_id": "x"},
              {"class": "metric", "metric": "m", "timestamp": ms, "x": 1},
              {"metric": "m", "value": 1}, {}, [], "m", None):
        yield p


def test_fast_path_gives_the_same_answers_as_the_rules():
    """The fast path for plain metrics only ever answers what the full rules answer."""
    from plexus_core import wire
    fast_taken = 0
    for p in _table():
        for rescale in (True, False):
            want, got = _full_path(p, rescale), _answer(p, rescale)
            assert got == want, (p, rescale, got, want)
        fast_taken += isinstance(p, dict) and wire._plain_metric(p) is not None
    assert fast_taken > 50  # the table exercises the fast path, not only the fallback
