"""HTTP/1.1 and WebSocket codec checks; they run on CPython (pytest,
tests/board/test_codecs.py) and inside MicroPython (tests/micropython/run.py)."""

import struct

from plexus_board import http11, wsframe, wshandshake
from plexus_core import ingest


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("did not raise %s" % exc.__name__)


def feed_bytewise(r, data):
    for i in range(len(data)):
        r.feed(data[i:i + 1])


def server_frame(op, payload, fin=True, masked=False, len64=False):
    b = bytearray([(0x80 if fin else 0) | op])
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126 and not len64:
        b.append(m | n)
    elif n < 65536 and not len64:
        b.append(m | 126)
        b.extend(struct.pack(">H", n))
    else:
        b.append(m | 127)
        b.extend(struct.pack(">Q", n))
    if masked:
        key = b"\x01\x02\x03\x04"
        b.extend(key)
        p = bytearray(payload)
        wsframe.mask(p, 0, n, key)
        b.extend(p)
    else:
        b.extend(payload)
    return bytes(b)


def test_handshake_accept_key_matches_rfc6455_example():
    assert wshandshake.accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert wshandshake.new_key(b"the sample nonce") == "dGhlIHNhbXBsZSBub25jZQ=="


def test_handshake_request_and_check():
    req = wshandshake.handshake_request("gw.local:8080", "/ws/device", "dGhlIHNhbXBsZSBub25jZQ==")
    assert req.startswith(b"GET /ws/device HTTP/1.1\r\nHost: gw.local:8080\r\n")
    assert b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" in req and req.endswith(b"\r\n\r\n")
    good = {"upgrade": "websocket", "sec-websocket-accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}
    wshandshake.check_handshake(101, good, "dGhlIHNhbXBsZSBub25jZQ==")
    raises(wsframe.ProtocolError, wshandshake.check_handshake, 101, good, "AAAAAAAAAAAAAAAAAAAAAA==")
    raises(wsframe.ProtocolError, wshandshake.check_handshake, 404, good, "dGhlIHNhbXBsZSBub25jZQ==")
    raises(wsframe.ProtocolError, wshandshake.check_handshake, 101, {"upgrade": "h2c"}, "x")


def test_header_lengths_and_mask_bit():
    out = bytearray(14)
    key = b"\x11\x22\x33\x44"
    for n, hl, b1 in ((0, 6, 0x80), (125, 6, 0x80 | 125), (126, 8, 0x80 | 126),
                      (65535, 8, 0x80 | 126), (65536, 14, 0x80 | 127)):
        assert wsframe.header(wsframe.TEXT, n, key, out) == hl
        assert out[0] == 0x81 and out[1] == b1 and bytes(out[hl - 4:hl]) == key
    wsframe.header(wsframe.TEXT, 70000, key, out)
    assert struct.unpack(">Q", bytes(out[2:10]))[0] == 70000


def test_mask_in_parts_equals_mask_at_once():
    key = b"\xa1\xb2\xc3\xd4"
    data = bytes(range(37))
    whole = bytearray(data)
    wsframe.mask(whole, 0, len(whole), key)
    assert bytes(whole) != data
    for cut in (1, 2, 3, 4, 5, 17, 36):
        parts = bytearray(data)
        ph = wsframe.mask(parts, 0, cut, key)
        wsframe.mask(parts, cut, len(parts), key, ph)
        assert parts == whole
    wsframe.mask(whole, 0, len(whole), key)
    assert bytes(whole) == data  # masking twice restores the payload


def test_reader_text_binary_and_control_frames_fed_bytewise():
    r = wsframe.Reader()
    stream = (server_frame(wsframe.TEXT, b'{"type":"authenticated"}')
              + server_frame(wsframe.PING, b"hb")
              + server_frame(wsframe.BINARY, bytes(300))
              + server_frame(wsframe.TEXT, b"x" * 200, len64=True)
              + server_frame(wsframe.CLOSE, wsframe.close_payload(1001, "deploy")))
    feed_bytewise(r, stream[:5])
    got = []
    r.feed(stream[5:])
    while True:
        f = r.next()
        if f is None:
            break
        got.append(f)
    assert [op for op, _ in got] == [wsframe.TEXT, wsframe.PING, wsframe.BINARY, wsframe.TEXT, wsframe.CLOSE]
    assert got[0][1] == b'{"type":"authenticated"}' and got[1][1] == b"hb"
    assert len(got[2][1]) == 300 and got[3][1] == b"x" * 200
    assert wsframe.parse_close(got[4][1]) == (1001, "deploy")
    assert wsframe.parse_close(b"") == (1005, "")


def test_reader_joins_fragments_around_a_ping():
    r = wsframe.Reader()
    r.feed(server_frame(wsframe.TEXT, b"hel", fin=False))
    r.feed(server_frame(wsframe.PING, b""))
    r.feed(server_frame(wsframe.CONT, b"lo ", fin=False))
    r.feed(server_frame(wsframe.CONT, b"world", masked=True))
    assert r.next() == (wsframe.PING, b"")
    assert r.next() == (wsframe.TEXT, b"hello world")
    assert r.next() is None


def test_reader_refuses_protocol_errors():
    for bad in (bytes([0x81 | 0x40, 0]),                      # reserved bit
                server_frame(wsframe.CONT, b"x"),              # continuation of nothing
                server_frame(wsframe.PING, b"x", fin=False),   # fragmented control
                server_frame(3, b"x")):                        # unknown opcode
        r = wsframe.Reader()
        r.feed(bad)
        raises(wsframe.ProtocolError, r.next)
    r = wsframe.Reader(max_message=100)
    r.feed(server_frame(wsframe.TEXT, b"x" * 101))
    assert raises(wsframe.ProtocolError, r.next).code == wsframe.TOO_BIG


def test_http_request_head():
    h = http11.request_head("POST", "127.0.0.1:9000", "/ingest",
                            {"Content-Type": "application/json"}, 42)
    assert h == (b"POST /ingest HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nContent-Length: 42\r\n"
                 b"Content-Type: application/json\r\n\r\n")


def test_http_response_content_length_bytewise_and_keep_alive():
    data = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
            b'{"success":true}')
    r = http11.Response()
    feed_bytewise(r, data[:-1])
    assert not r.done
    r.feed(data[-1:])
    assert r.done and r.status == 200 and r.body == b'{"success":true}' and r.keep_alive
    assert r.headers["content-type"] == "application/json"


def test_http_response_chunked_and_close():
    data = (b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n4\r\n{\"er\r\na;x=1\r\nror\":\"down\r\n2\r\n\"}\r\n0\r\n\r\n")
    r = http11.Response()
    feed_bytewise(r, data)
    assert r.done and r.status == 503 and r.body == b'{"error":"down"}' and not r.keep_alive


def test_http_response_to_end_of_connection():
    r = http11.Response()
    r.feed(b"HTTP/1.0 400 Bad Request\r\n\r\nbad json")
    assert not r.done
    r.eof()
    assert r.done and r.body == b"bad json" and not r.keep_alive
    r = http11.Response()
    r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    raises(ValueError, r.eof)


def test_http_upgrade_keeps_the_bytes_after_the_head():
    frame = server_frame(wsframe.TEXT, b"hi")
    r = http11.Response(head_only=True)
    r.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n" + frame)
    assert r.done and r.status == 101 and r.rest == frame


def test_http_garbage_is_refused():
    raises(ValueError, http11.Response().feed, b"SSH-2.0-OpenSSH\r\n\r\n")
    r = http11.Response()
    raises(ValueError, r.feed, b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n")


def test_http_date_header_to_epoch_ms():
    assert ingest.date_ms("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777000
    assert ingest.date_ms("Thu, 01 Jan 1970 00:00:00 GMT") == 0
    assert ingest.date_ms("Tue, 29 Feb 2028 23:59:59 GMT") == 1835481599000
    assert ingest.date_ms("Wed, 25 Nov 2026 07:50:00 GMT") == 1795593000000
    for bad in (None, "", "yesterday", "Sun, 06 Nvv 1994 08:49:37 GMT", "Sun, 6 ovN 1994 08:49:37 GMT"):
        assert ingest.date_ms(bad) is None
