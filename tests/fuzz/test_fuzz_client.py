"""Generated inputs for every argument of send()/event()/send_batch(): each
either raises ValueError/TypeError with a message, or is accepted and stored
exactly as the documented rules say."""

import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from plexus import Plexus

T_MIN = 1
settings.register_profile("plexus", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
settings.load_profile("plexus")

texts = st.text(max_size=300) | st.text(alphabet="ab€😀", min_size=60, max_size=130)
json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_tree = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(texts, kids, max_size=4),
                         max_leaves=40)
numpy_scalars = st.builds(np.float32, st.floats(width=32)) | st.builds(np.int64, st.integers(-2**63, 2**63 - 1)) | \
    st.builds(np.float64, st.floats()) | st.builds(np.bool_, st.booleans())
good_leaf = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-2**60, 2**60) | \
    st.text(max_size=50) | st.booleans()
good_value = good_leaf | st.dictionaries(st.text(max_size=10), good_leaf, max_size=5) | st.lists(good_leaf, max_size=5)
values = good_value | good_value | good_value | json_tree | numpy_scalars | st.binary(max_size=10) | st.integers(-10**320, 10**320) | \
    st.tuples(st.integers(), texts) | st.just(object())
# Mostly plausible arguments, so that many examples are accepted and checked
# in storage, plus every kind of wrong one.
good_metric = st.text(min_size=1, max_size=40)
metrics = st.one_of(good_metric, good_metric, good_metric, texts, st.integers(), st.none(), st.binary(max_size=5))
good_ts = st.integers(946684800000, 4102444800000) | st.floats(946684800.0, 4102444800.0)
timestamps = st.one_of(st.none(), st.none(), good_ts, good_ts, st.integers(-10, 2**64), st.floats(), st.text(max_size=3),
                       st.booleans())
good_tags = st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=20), max_size=4)
tags = st.one_of(st.none(), st.none(), good_tags, good_tags, st.dictionaries(texts, texts | st.integers(), max_size=20),
                 st.lists(texts, max_size=2))


def expected_ts(ts):
    """Our documented rule: < 1e12 seconds (rounded to the nearest ms, so 1.0005 s
    is not stored as 1000 ms); < 1e15 ms; < 1e18 µs; else ns. A negative
    time is converted by its magnitude; the gateway keeps 64 bits of it."""
    if ts < 0:
        return -expected_ts(-ts)
    if ts < 1e12:
        ms = int(ts * 1000 + 0.5)
    elif ts < 1e15:
        ms = int(ts)
    elif ts < 1e18:
        ms = int(ts) // 1000
    else:
        ms = int(ts) // 1000000
    return min(ms, 2 ** 63 - 1)


def last_stored(gw, metric):
    """The most recently stored point named `metric` (names repeat across examples)."""
    rows = gw._query("SELECT class, value, ts, tags FROM points WHERE source_id='fuzz-1' AND metric=? "
                     "ORDER BY id DESC LIMIT 1", (metric,))
    assert rows, "accepted but not stored: %r" % metric
    cls, value, ts, tags = rows[0]
    return {"class": cls, "value": json.loads(value), "timestamp": ts, "tags": json.loads(tags) if tags else {}}


def plain(v):
    """What JSON makes of an accepted value."""
    if isinstance(v, np.generic):
        v = v.item()
    return json.loads(json.dumps(v))


@pytest.fixture(scope="module")
def client(shared_gateway, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    os.environ["PLEXUS_QUIET"] = "1"
    px = Plexus(api_key=shared_gateway.key, source_id="fuzz-1", ws_url=shared_gateway.ws_url,
                buffer_path=str(home / "buffer.db"))
    yield px
    px.close()




@settings(max_examples=150)
@given(metric=metrics, value=values, timestamp=timestamps, tags=tags)
def test_send_raises_clearly_or_stores_exactly(client, shared_gateway, metric, value, timestamp, tags):
    try:
        ok = client.send(metric, value, timestamp=timestamp, tags=tags)
    except (ValueError, TypeError) as e:
        assert len(str(e)) > 15, "unhelpful message: %r" % str(e)
        event("refused: " + type(e).__name__)
        return
    event("accepted")
    assert ok is True
    assert client.flush_buffer(60)
    p = last_stored(shared_gateway, metric)
    v = plain(value)
    if isinstance(v, float):
        assert math.isfinite(v) and p["value"] == v
    else:
        assert p["value"] == v
    num = isinstance(v, (int, float)) and not isinstance(v, bool)
    assert p["class"] == ("metric" if num else "event")
    assert p.get("tags", {}) == (tags or {})
    if timestamp is not None:
        assert p["timestamp"] == expected_ts(timestamp)
    assert len(metric.encode()) <= 256


@settings(max_examples=60)
@given(items=st.lists(st.tuples(metrics, values) | st.tuples(metrics, values, timestamps) | values, max_size=5),
       timestamp=timestamps, tags=tags)
def test_send_batch_is_all_or_nothing(client, shared_gateway, items, timestamp, tags):
    before = client.buffer_size() + shared_gateway.count("fuzz-1")
    try:
        client.send_batch(items, timestamp=timestamp, tags=tags)
    except (ValueError, TypeError) as e:
        assert len(str(e)) > 15
        assert client.flush_buffer(60)
        assert shared_gateway.count("fuzz-1") == before      # nothing of a refused batch is queued
        return
    assert client.flush_buffer(60)
    assert shared_gateway.count("fuzz-1") == before + len(items)


@settings(max_examples=60)
@given(name=metrics, data=values, tags=tags)
def test_event_raises_clearly_or_is_an_event(client, shared_gateway, name, data, tags):
    try:
        client.event(name, data, tags=tags)
    except (ValueError, TypeError) as e:
        assert len(str(e)) > 15
        return
    assert client.flush_buffer(60)
    p = last_stored(shared_gateway, name)
    assert p["class"] == "event" and p["value"] == plain(data)


@settings(max_examples=80)
@given(sid=st.text(max_size=80) | st.integers() | st.none())
def test_invalid_source_ids_are_refused_at_construction(shared_gateway, tmp_path_factory, sid):
    from plexus_core.source_id import source_id_error
    if isinstance(sid, str) and source_id_error(sid) is None:
        return
    with pytest.raises((ValueError, TypeError)) as e:
        Plexus(api_key=shared_gateway.key, source_id=sid if sid is not None else "", ws_url=shared_gateway.ws_url,
               buffer_path=str(tmp_path_factory.mktemp("b") / "b.db"))
    assert "source_id" in str(e.value)
