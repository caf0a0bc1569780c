"""UTF-8 sizes without needless copies (limits are in bytes, len() counts characters)."""

import json
import sys

# CPython's json.dumps escapes non-ASCII (len == bytes); MicroPython's does not.
_ASCII_JSON = sys.implementation.name != "micropython"


def utf8_len(s, short=256):
    """Bytes of str s. UTF-8 uses at most 4 bytes a character, so strings of
    up to short/4 characters are not encoded just to be measured."""
    n = len(s)
    return n if n * 4 <= short else len(s.encode())


def json_nbytes(encoded):
    """UTF-8 size of JSON text (str or bytes); no copy on CPython."""
    if _ASCII_JSON or isinstance(encoded, (bytes, bytearray)):
        return len(encoded)
    return len(encoded.encode())


def json_size(value):
    """Bytes of `value` as compact UTF-8 JSON (no spaces, characters not
    escaped): how client and gateway alike count an event object against
    its limit, as the hosted gateway counts its own compact encoding."""
    if _ASCII_JSON:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    return len(json.dumps(value, separators=(",", ":")).encode())
