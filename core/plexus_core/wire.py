"""Validation of points as a gateway receives them (docs/protocol.md §3.9).

Mirrors the hosted gateway, on the same limits the client enforces before
sending (plexus_core.points), so both ends agree on what is valid.
"""

from plexus_core.limits import MAX_NAME_BYTES, MAX_EVENT_JSON_BYTES, MAX_TAGS, MAX_TIMESTAMP_MS
from plexus_core.points import METRIC, EVENT, check_name, check_text, _is_number, _finite
from plexus_core.sizes import json_size, utf8_len


def check_wire_point(p, rescale_seconds=True):
    """Validate a point as received by a gateway; returns the normalised dict.

    Mirrors the hosted gateway: missing class is inferred, `source_id` is
    removed (the caller resolves it), unknown keys are tolerated and dropped,
    a positive timestamp below 1e12 is seconds (HTTP; pass rescale_seconds).
    Raises ValueError with the field at fault.
    """
    if not isinstance(p, dict):
        raise ValueError("point must be an object")
    q = _plain_metric(p)
    if q is not None:
        return q
    metric = p.get("metric")
    if type(metric) is not str:
        raise ValueError("point.metric must be a string")
    check_name("point.metric", metric)
    value = p.get("value")
    cls = p.get("class")
    if cls is not None and cls != METRIC and cls != EVENT:
        raise ValueError("point.class must be 'metric' or 'event'")
    if value is None:
        raise ValueError("point.value is required")
    if cls is None:
        cls = METRIC if _is_number(value) else EVENT
    if cls == METRIC:
        if not _is_number(value) or not _finite(value):
            raise ValueError("point.value must be a finite number for class metric")
    elif type(value) is str:
        check_text("point.value", value)
    elif isinstance(value, (dict, list)):
        if json_size(value) > MAX_EVENT_JSON_BYTES:
            raise ValueError("point.value JSON exceeds %d bytes" % MAX_EVENT_JSON_BYTES)
    elif not (_is_number(value) or value is True or value is False):
        raise ValueError("point.value has an unsupported type")
    elif _is_number(value) and not _finite(value):
        raise ValueError("point.value must be finite")
    ts = p.get("timestamp")
    if ts is not None:
        if not _is_number(ts) or not _finite(ts):
            raise ValueError("point.timestamp must be a finite number")
        if rescale_seconds and 0 < ts < 1e12:
            ts = ts * 1000
        ts = int(ts)  # any finite number, as the hosted gateway takes it
    out = {"class": cls, "metric": metric, "value": value, "timestamp": ts}
    tags = p.get("tags")
    if tags is not None:
        if not isinstance(tags, dict):
            raise ValueError("point.tags must be an object of strings")
        if len(tags) > MAX_TAGS:
            raise ValueError("point.tags has more than %d entries" % MAX_TAGS)
        for k in tags:
            check_text("point.tags key", k)
            if type(tags[k]) is not str:
                raise ValueError("point.tags values must be strings")
            if utf8_len(tags[k]) > MAX_NAME_BYTES:
                raise ValueError("point.tags value exceeds %d bytes" % MAX_NAME_BYTES)
        if tags:
            out["tags"] = tags
    return out


def _plain_metric(p):
    """The bulk of traffic, checked in a few comparisons: exactly metric,
    value and timestamp (and class "metric", or no class: a number makes it
    a metric), a float or int value, an int ms timestamp and a short name
    (64 characters are at most 256 UTF-8 bytes). None: take the full path,
    which decides everything else (and every error). tests/core/test_wire.py
    checks that both paths give the same answers."""
    n = len(p)
    if n == 4:
        if p.get("class") != METRIC:
            return None
    elif n != 3 or "class" in p:
        return None
    metric, value, ts = p.get("metric"), p.get("value"), p.get("timestamp")
    if type(metric) is not str or not 0 < len(metric) <= 64 or type(ts) is not int:
        return None
    if not 1e12 <= ts <= MAX_TIMESTAMP_MS:
        return None
    t = type(value)
    if t is float:
        if value - value != 0:
            return None
    elif t is not int or not -1e308 < value < 1e308:
        return None
    return {"class": METRIC, "metric": metric, "value": value, "timestamp": ts}
