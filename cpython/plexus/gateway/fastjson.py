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


def loads(text):
    """json.loads, faster: the same values, the same ValueError on bad JSON."""
    if orjson is not None:
        data = text.encode("utf-8", "surrogatepass") if type(text) is str else text
        if _LONG_RUN not in data.translate(_DIGITS):
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError:
                pass
    return json.loads(text)
