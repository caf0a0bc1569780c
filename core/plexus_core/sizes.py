"""UTF-8 sizes without needless copies (limits are in bytes, len() counts characters)."""

import json
import sys

try:
    from io import IOBase
except ImportError:  # a port built without io.IOBase: json_size copies instead
    IOBase = None

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
    """Bytes of `value` as compact UTF-8 JSON, with numbers written as the
    hosted gateway's Go encoder writes them (1.0 as 1, 1e-07 as 1e-7): how
    client and gateway alike count an event object against its limit. Never
    more than the hosted count (Go escapes <, >, & as \\u003c, never less)."""
    if _ASCII_JSON:
        n = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
    elif IOBase is not None:  # counted piece by piece: a 4 KB text and its encoded copy need not fit a small heap
        c = _Counter()
        json.dump(value, c, separators=(",", ":"))
        n = c.n
    else:
        n = len(json.dumps(value, separators=(",", ":")).encode())
    stack = [value]
    while stack:  # a loop over containers, not recursion: small C stacks on boards
        v = stack.pop()
        t = type(v)
        if t is float or t is int:
            n += _go_number_len(v) - len(repr(v))
        elif t is dict or t is list or t is tuple:
            for x in (v.values() if t is dict else v):
                t = type(x)
                if t is float or t is int:
                    n += _go_number_len(x) - len(repr(x))
                elif t is dict or t is list or t is tuple:
                    stack.append(x)
    return n


class _Counter(IOBase or object):
    """A stream that only counts the UTF-8 bytes written to it."""

    def __init__(self):
        self.n = 0

    def write(self, s):
        self.n += len(s.encode()) if isinstance(s, str) else len(s)
        return len(s)


def _go_number_len(x):
    """Length of x as Go writes a float64: shortest digits, plain notation for
    1e-6 <= |x| < 1e21, else exponent notation with e-7 (not e-07)."""
    try:
        f = float(x)
    except OverflowError:
        return len(repr(x))
    r = repr(f)
    neg = 1 if r[0] == "-" else 0
    r = r[neg:]
    e = 0
    i = r.find("e")
    if i >= 0:
        e = int(r[i + 1:])
        r = r[:i]
    i = r.find(".")
    frac = 0 if i < 0 else len(r) - i - 1
    d = r.replace(".", "").lstrip("0")
    if not d:
        return 1 + neg  # 0 or -0
    k = len(d)
    d = d.rstrip("0")
    q = e - frac + k - len(d)  # the value is int(d) * 10**q
    k = len(d)
    p = k + q                  # ... and 0.d * 10**p
    a = -f if f < 0 else f
    if 1e-6 <= a < 1e21:
        if p >= k:
            return neg + p
        if p > 0:
            return neg + k + 1
        return neg + 2 - p + k
    x = p - 1
    exp = 1 if -10 < x < 0 else max(2, len(str(-x if x < 0 else x)))
    return neg + k + (1 if k > 1 else 0) + 2 + exp
