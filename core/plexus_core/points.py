"""The point model (docs/protocol.md §3): build, validate and encode one reading.

A point is a dict {"class", "metric", "value", "timestamp"[, "tags"]}. Every
gateway rule is checked here, before anything is queued, and a bad reading
raises ValueError naming the field, the limit and the fix. The gateway checks
what arrives with plexus_core.wire, on the same limits.
"""

import json

from plexus_core.limits import MAX_NAME_BYTES, MAX_EVENT_JSON_BYTES, MAX_TAGS, MAX_TIMESTAMP_MS
from plexus_core.sizes import json_size, utf8_len, _ASCII_JSON

METRIC = "metric"
EVENT = "event"

_MAX_DEPTH = 32


def _is_number(v):
    t = type(v)
    return t is float or t is int


_FLOAT_MAX = 1.7976931348623157e308


def _finite(x):
    # NaN and inf fail x - x == 0 (inf - inf is NaN). An int must fit a
    # float64 too: gateways decode JSON numbers as doubles, and an int past
    # 1.8e308 would be refused there and block the queue behind it.
    if type(x) is int:
        return -_FLOAT_MAX <= x <= _FLOAT_MAX
    return x - x == 0


def check_name(field, s):
    """A metric name: non-empty str <= 256 bytes."""
    check_text(field, s)
    if not s:
        raise ValueError("%s must not be empty" % field)
    return s


def check_text(field, s):
    """A tag key/value or string event: str <= 256 bytes, empty allowed (as
    the hosted gateway allows it)."""
    if type(s) is not str:
        if not isinstance(s, str):
            raise ValueError("%s must be a string, got %s" % (field, type(s).__name__))
    n = utf8_len(s)
    if n > MAX_NAME_BYTES:
        raise ValueError("%s is %d bytes; the limit is %d UTF-8 bytes: shorten it"
                         % (field, n, MAX_NAME_BYTES))
    return s


def _unwrap(v):
    # numpy scalars and similar expose .item(); take the plain Python value.
    item = getattr(v, "item", None)
    if item is not None and not isinstance(v, (dict, list, tuple, str, bytes)):
        try:
            return item()
        except Exception:
            pass
    return v


def _check_json(v, where):
    """Reject what JSON cannot carry exactly: NaN/inf, bytes, sets, objects.
    Returns a plain copy (tuples become lists). Walks with an explicit stack,
    never recursion: an RP2040's ~8 KB C stack overflows a recursive walk at
    about 14 levels, and too deep must be this ValueError, not RuntimeError."""
    top = [None]
    stack = [(top, 0, v, 0)]  # (container to fill, key or index, value, depth)
    while stack:
        into, at, v, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise ValueError("%s nests deeper than %d levels" % (where, _MAX_DEPTH))
        v = _json_leaf(v, where)
        if isinstance(v, dict):
            out = {}
            for k in v:
                if not isinstance(k, str):
                    raise ValueError("%s has a non-string key %r; JSON object keys must be strings" % (where, k))
                out[k] = None
                stack.append((out, k, v[k], depth + 1))
            v = out
        elif isinstance(v, (list, tuple)):
            out = [None] * len(v)
            for i in range(len(v)):
                stack.append((out, i, v[i], depth + 1))
            v = out
        into[at] = v
    return top[0]


def _json_leaf(v, where):
    """v as a plain JSON value; a dict, list or tuple comes back as is (the
    caller walks it)."""
    for _ in (0, 1, 2):  # again for what a conversion gave (numpy scalars, subclasses)
        if v is None or v is True or v is False or type(v) is str or type(v) is int:
            return v
        if type(v) is float:
            if not _finite(v):
                raise ValueError("%s contains %r; JSON has no NaN or infinity: send a number or null" % (where, v))
            return v
        if isinstance(v, (dict, list, tuple)):
            return v
        if isinstance(v, str):
            return str(v)
        if isinstance(v, int):
            return int(v)  # bool is caught above: True/False are its only values
        if isinstance(v, float):
            v = float(v)
            continue
        u = _unwrap(v)
        if u is v:
            break
        v = u
    if isinstance(v, (bytes, bytearray)):
        raise ValueError("%s contains bytes; decode them to str (or base64) first" % where)
    raise ValueError("%s contains a %s, which is not JSON; use str, number, bool, list or dict"
                     % (where, type(v).__name__))


def check_tags(tags):
    """None/{} -> None; else a dict of <= 16 str -> str, each <= 256 bytes (empty allowed)."""
    if not tags:
        if tags is None or isinstance(tags, dict):
            return None
    if not isinstance(tags, dict):
        raise ValueError("tags must be a dict of str -> str, got %s" % type(tags).__name__)
    if len(tags) > MAX_TAGS:
        raise ValueError("%d tags given; the limit is %d per point: drop some or fold them "
                         "into the metric name" % (len(tags), MAX_TAGS))
    for k in tags:
        check_text("tag key", k)
        v = tags[k]
        if type(v) is not str:
            raise ValueError("tag %r has a %s value; tag values must be strings (str(value))"
                             % (k, type(v).__name__))
        check_text("tag %r" % k, v)
    return tags


def normalize_timestamp(ts, now_ms):
    """Any epoch time to integer ms, for run windows and video frames.

    None -> now_ms() (the server-corrected clock; the only case it is used).
    Units as in point_timestamp. Zero, negative, after the year 3000, NaN,
    inf, bool and non-numbers raise ValueError.
    """
    if ts is None:
        return now_ms()
    ts = _epoch_number(ts)
    if ts <= 0:
        raise ValueError("timestamp %r is not a positive epoch time; pass seconds or ms "
                         "since 1970, or None for now" % (ts,))
    ms = _to_ms(ts)
    if ms <= 0:  # a tiny positive number would become 0, which reads as "no time"
        raise ValueError("timestamp %r is before 1970-01-01T00:00:00.001; pass seconds or "
                         "ms since 1970, or None for now" % (ts,))
    if ms > MAX_TIMESTAMP_MS:
        raise ValueError("timestamp %.30r is after the year 3000; pass seconds, ms, us or ns "
                         "since 1970, or None for now" % (ts,))
    return ms


def point_timestamp(ts, now_ms):
    """A point's timestamp as integer ms. None -> now_ms().

    Units are told apart by magnitude: < 1e12 seconds, < 1e15 ms, < 1e18 µs,
    else ns (each boundary is 2001-09-09 in the smaller unit). Any finite
    number is accepted, as the hosted gateway accepts it (zero, negative, far
    future: docs/api.md says what that does to `latest`); NaN, inf, bool and
    non-numbers raise ValueError.
    """
    if ts is None:
        return now_ms()
    return _to_ms(_epoch_number(ts))


def _epoch_number(ts):
    if not _is_number(ts):
        ts = _unwrap(ts)
        if isinstance(ts, bool) or not isinstance(ts, (int, float)):
            raise ValueError("timestamp must be epoch seconds or ms as a number, got %s"
                             % type(ts).__name__)
    if not _finite(ts):
        raise ValueError("timestamp %r is not a finite number; pass seconds or ms since 1970, "
                         "or None for now" % (ts,))
    return ts


def _to_ms(ts):
    a = -ts if ts < 0 else ts
    # Integer bounds and integer arithmetic for int input: a board's
    # single-precision float would move an epoch by minutes.
    if a < 1000000000000:
        ms = a * 1000 if type(a) is int else int(a * 1000 + 0.5)
    elif a < 1000000000000000:
        ms = int(a)
    elif a < 1000000000000000000:
        ms = int(a) // 1000
    else:
        ms = int(a) // 1000000
    return -ms if ts < 0 else ms


def check_value(metric, value, data_class):
    """Validate a value for its class; returns (class, value) with class inferred."""
    if _is_number(value):
        if not _finite(value):
            raise ValueError("%r: value %.40r is not finite (or beyond +-1.8e308); the "
                             "gateway only stores finite numbers: skip the reading or send "
                             "an event" % (metric, value))
        if data_class is None or data_class == METRIC:
            return METRIC, value
        if data_class == EVENT:
            return EVENT, value
    if data_class is not None and data_class != METRIC and data_class != EVENT:
        raise ValueError("class must be 'metric' or 'event', got %r" % (data_class,))
    if value is None:
        raise ValueError("%r: value is None; the gateway rejects null: skip the reading" % metric)
    value = _unwrap(value)
    if _is_number(value):
        return check_value(metric, value, data_class)
    if data_class == METRIC:
        raise ValueError("%r: class 'metric' needs a finite number, got %s; use event() "
                         "for strings, bools and objects" % (metric, type(value).__name__))
    if isinstance(value, bool):
        return EVENT, bool(value)
    if isinstance(value, str):
        check_text("%r: string value" % metric, value)
        return EVENT, value
    if isinstance(value, int):  # int subclasses other than bool
        return check_value(metric, int(value), data_class)
    if isinstance(value, float):
        return check_value(metric, float(value), data_class)
    if isinstance(value, (dict, list, tuple)):
        value = _check_json(value, "%r: value" % metric)
        n = json_size(value)
        if n > MAX_EVENT_JSON_BYTES:
            raise ValueError("%r: event value is %d bytes of JSON; the limit is %d: send "
                             "less, or split it into several events"
                             % (metric, n, MAX_EVENT_JSON_BYTES))
        return EVENT, value
    _check_json(value, "%r: value" % metric)  # raises with a clear message
    raise ValueError("%r: unsupported value type %s" % (metric, type(value).__name__))


def make_point(metric, value, timestamp=None, tags=None, data_class=None, now_ms=None):
    """Build a validated point dict. `now_ms` is the clock used when timestamp is None."""
    check_name("metric name", metric)
    cls, value = check_value(metric, value, data_class)
    p = {"class": cls, "metric": metric, "value": value,
         "timestamp": point_timestamp(timestamp, now_ms)}
    tags = check_tags(tags)
    if tags:
        p["tags"] = tags
    return p


# CPython fast path for the bulk of traffic (a number without tags): a
# template gives the same text as json.dumps ~4x faster (json writes floats
# and ints with repr; names are escaped by json once and cached).
_METRIC_TEMPLATE = '{"class":"metric","metric":%s,"value":%r,"timestamp":%d}'
_names = {}


def encode_point(p):
    """Compact JSON of one point (what stores and frames hold)."""
    if _ASCII_JSON and len(p) == 4 and p.get("class") == METRIC:
        v = p["value"]
        t = p["timestamp"]
        if (type(v) is float or type(v) is int) and type(t) is int:
            m = p["metric"]
            q = _names.get(m)
            if q is None:
                if len(_names) >= 1024:
                    _names.clear()
                q = _names[m] = json.dumps(m)
            return _METRIC_TEMPLATE % (q, v, t)
    return json.dumps(p, separators=(",", ":"))


def encode_readings(points, timestamp, tags, now_ms):
    """send_batch's readings, [(metric, value)] or [(metric, value, timestamp)],
    encoded; all are checked first, so one bad reading raises and none is kept.
    `timestamp` (default: now, once) applies to the 2-tuples."""
    shared = point_timestamp(timestamp, now_ms)
    enc = []
    for i, item in enumerate(points):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError("send_batch item %d must be (metric, value) or "
                             "(metric, value, timestamp), got %r" % (i, item))
        ts = item[2] if len(item) == 3 and item[2] is not None else shared
        enc.append(encode_point(make_point(item[0], item[1], ts, tags, None, now_ms)))
    return enc
