"""The gateway's JSON parsing at the socket edge gives exactly what json.loads
gives (orjson on the fast path must never change an accepted value)."""

import json
import math

import pytest

from plexus.gateway import fastjson, jsonread

SAME = [
    '{"type":"telemetry","seq":7,"points":[{"metric":"m","value":21.5,"timestamp":1760000000000}]}',
    '{"v": 123456789012345678901234567890}',          # past 64 bits: orjson would make it a float
    '{"v": -18446744073709551616, "w": 18446744073709551615}',
    '{"v": 0.1, "w": 1e-7, "x": -0.0, "y": 2.5e300}',
    '{"s": "h\\u00e9 \\ud800", "t": "caf\u00e9"}',      # a lone surrogate escape, non-ASCII text
    '{"a": 1, "a": 2}',
    '[1, [2, [3, {"x": null, "y": true, "z": false}]]]',
    '{"tag": "12345678901234567890123"}',              # a long digit run inside a string
]


@pytest.mark.parametrize("text", SAME)
def test_same_values_as_the_standard_library(text):
    assert fastjson.loads(text) == json.loads(text)
    assert fastjson.loads(text.encode()) == json.loads(text.encode())
    assert repr(fastjson.loads(text)) == repr(json.loads(text))  # types too: an int stays an int


def test_what_only_the_standard_library_accepts_is_still_accepted():
    assert math.isnan(fastjson.loads("[NaN]")[0])
    assert fastjson.loads('{"x": 1}'.encode("utf-16")) == {"x": 1}


@pytest.mark.parametrize("bad", ["{", "", '{"a":}', "[1,]", "{'a': 1}"])
def test_bad_json_raises_value_error(bad):
    with pytest.raises(ValueError):
        fastjson.loads(bad)


READ = [s.encode() for s in SAME] + [
    b'{"type":"telemetry","m":"caf\xe9"}',             # not UTF-8: U+FFFD, and flagged
    b'{"s":"\xed\xa0\x80"}',                           # an encoded surrogate is not UTF-8 either
    '{"s": "h\\ud83d\\ude00 \\udc00"}'.encode(),       # a pair, then a lone escape
    b'{"n": 123456789012345678901234567890}', b"[NaN]", b"\xef\xbb\xbf{}", b"{",
]


@pytest.mark.parametrize("data", READ)
def test_read_gives_what_decode_then_loads_give(data):
    """The device socket's one-step read of a frame's bytes answers as decoding them first does."""
    text, valid = jsonread.decode(data)
    try:
        want = (jsonread.loads(text), valid)
    except ValueError:
        with pytest.raises(ValueError):
            jsonread.read(data)
        return
    got = jsonread.read(data)
    assert repr(got) == repr(want)
