"""Parsing the JSON that devices and clients send, at the socket edge.

orjson, when installed (the `gateway` extra), parses a telemetry frame about
twice as fast as the standard library. It reads integers past 64 bits as
floats, so text with a run of 20 digits goes to the standard library, as
does whatever orjson refuses (NaN literals, UTF-16 bodies): what the gateway
accepts, and the values it stores, never depend on it. The rules stay in
plexus_core.wire.
"""

import json

try:
    import orjson
except ImportError:  # pragma: no cover - the gateway extra installs it
    orjson = None

_DIGITS = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))  # digits -> "0", the rest -> " "
_LONG_RUN = b"0" * 20  # 2**64 has 20 digits


MISS = object()


def quick(data):
    """orjson's reading of UTF-8 bytes, or MISS wherever it might differ from
    json.loads(data.decode()): no orjson, a run of 20 digits, or anything
    orjson refuses (which includes bytes that are not UTF-8)."""
    if orjson is None or _LONG_RUN in data.translate(_DIGITS):
        return MISS
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return MISS


def loads(text):
    """json.loads, faster: the same values, the same ValueError on bad JSON."""
    if orjson is not None:
        v = quick(text.encode("utf-8", "surrogatepass") if type(text) is str else text)
        if v is not MISS:
            return v
    return json.loads(text)
