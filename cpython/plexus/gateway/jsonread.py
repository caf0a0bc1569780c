"""JSON text read as the hosted gateway's decoder reads it: bytes that are not
UTF-8, and escaped lone surrogates (\\ud800 without its pair), become U+FFFD
instead of refusing the frame or failing to store it."""

import re

from plexus.gateway import fastjson

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")


def decode(data):
    """Bytes -> (text, whether they were valid UTF-8)."""
    try:
        return data.decode(), True
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), False


def read(data):
    """Bytes -> (loads(text), whether they were valid UTF-8), as decode() then
    loads() give them; valid UTF-8 without surrogate escapes (nearly every
    frame) is parsed as it is, without decoding it to text first."""
    if not _SURROGATE_ESCAPE_BYTES.search(data):
        value = fastjson.quick(data)
        if value is not fastjson.MISS:
            return value, True
    text, valid = decode(data)
    return loads(text), valid


def loads(text):
    """json.loads (through fastjson), with lone surrogates replaced (ValueError
    as json.loads)."""
    value = fastjson.loads(text)
    if not _SURROGATE_ESCAPE.search(text):
        return value
    if isinstance(value, str):
        return _mend(value)
    stack = [value]
    while stack:  # rare: only texts with surrogate escapes get here
        v = stack.pop()
        if isinstance(v, dict):
            for k in list(v):
                x = v.pop(k)
                v[_mend(k)] = _mend(x) if isinstance(x, str) else x
                if isinstance(x, (dict, list)):
                    stack.append(x)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                if isinstance(x, str):
                    v[i] = _mend(x)
                elif isinstance(x, (dict, list)):
                    stack.append(x)
    return value


def _mend(s):
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        return s
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)
