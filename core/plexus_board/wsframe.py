"""WebSocket client framing (RFC 6455), sans-I/O.

Frames only (the opening handshake is plexus_board.wshandshake, loaded just to
connect): client frames are masked (the built-in `websocket` module frames
like a server, unmasked, so it cannot be used); server frames are read by
Reader, which reassembles fragments and hands control frames over as they
come.
"""

import struct

CONT = 0
TEXT = 1
BINARY = 2
CLOSE = 8
PING = 9
PONG = 10

NORMAL = 1000
PROTOCOL_ERROR = 1002
TOO_BIG = 1009


class ProtocolError(ValueError):
    """The server broke the WebSocket protocol; `code` is the close code to send."""

    def __init__(self, msg, code=PROTOCOL_ERROR):
        super().__init__(msg)
        self.code = code


def header(opcode, n, mask_key, out):
    """Write a masked frame header for an n-byte payload into `out` (at least
    14 bytes); returns its length."""
    out[0] = 0x80 | opcode
    if n < 126:
        out[1] = 0x80 | n
        i = 2
    elif n < 65536:
        out[1] = 0x80 | 126
        struct.pack_into(">H", out, 2, n)
        i = 4
    else:
        out[1] = 0x80 | 127
        struct.pack_into(">Q", out, 2, n)
        i = 10
    out[i:i + 4] = mask_key
    return i + 4


def mask(buf, start, end, key, phase=0):
    """XOR buf[start:end] in place with the 4-byte key, starting at key byte
    `phase` (so one payload can be masked in parts); returns the next phase."""
    k0, k1, k2, k3 = key[0], key[1], key[2], key[3]
    ks = (k0, k1, k2, k3)
    i = start
    # first align to the key, then four bytes per round
    while i < end and phase & 3:
        buf[i] ^= ks[phase & 3]
        i += 1
        phase += 1
    while i + 4 <= end:
        buf[i] ^= k0
        buf[i + 1] ^= k1
        buf[i + 2] ^= k2
        buf[i + 3] ^= k3
        i += 4
    while i < end:
        buf[i] ^= ks[phase & 3]
        i += 1
        phase += 1
    return phase & 3


def close_payload(code, reason=""):
    return struct.pack(">H", code) + reason.encode()[:120]


def parse_close(payload):
    """(code, reason) of a close frame; 1005 when it carries no code."""
    if len(payload) < 2:
        return 1005, ""
    try:
        reason = bytes(payload[2:]).decode()
    except Exception:
        reason = ""
    return struct.unpack(">H", payload[:2])[0], reason


class Reader:
    """Server frames from a byte stream: feed(bytes), then next() until None.

    next() returns (opcode, payload bytes): TEXT or BINARY for a whole
    message (fragments joined), or CLOSE/PING/PONG as they arrive."""

    def __init__(self, max_message=65536):
        self.max_message = max_message
        self._buf = bytearray()
        self._pos = 0
        self._frag_op = None
        self._frags = []
        self._frag_len = 0

    def feed(self, data):
        if self._pos:
            self._buf = self._buf[self._pos:]
            self._pos = 0
        self._buf.extend(data)

    def next(self):
        while True:
            f = self._frame()
            if f is None:
                return None
            fin, op, payload = f
            if op >= 8:
                if not fin or len(payload) > 125:
                    raise ProtocolError("fragmented or oversized control frame")
                return op, payload
            if op == CONT:
                if self._frag_op is None:
                    raise ProtocolError("continuation frame without a message")
            elif self._frag_op is not None:
                raise ProtocolError("new message inside a fragmented one")
            elif op not in (TEXT, BINARY):
                raise ProtocolError("unknown opcode %d" % op)
            if fin and op != CONT:
                return op, payload
            if op != CONT:
                self._frag_op = op
            self._frags.append(payload)
            self._frag_len += len(payload)
            if self._frag_len > self.max_message:
                raise ProtocolError("message over %d bytes" % self.max_message, TOO_BIG)
            if fin:
                op, data = self._frag_op, b"".join(self._frags)
                self._frag_op = None
                self._frags = []
                self._frag_len = 0
                return op, data

    def _frame(self):
        b = self._buf
        p = self._pos
        have = len(b) - p
        if have < 2:
            return None
        b0, b1 = b[p], b[p + 1]
        if b0 & 0x70:
            raise ProtocolError("reserved bits set (no extension was negotiated)")
        n = b1 & 0x7F
        i = p + 2
        if n == 126:
            if have < 4:
                return None
            n = struct.unpack(">H", b[i:i + 2])[0]
            i += 2
        elif n == 127:
            if have < 10:
                return None
            n = struct.unpack(">Q", b[i:i + 8])[0]
            i += 8
        if n > self.max_message:
            raise ProtocolError("frame over %d bytes" % self.max_message, TOO_BIG)
        key = None
        if b1 & 0x80:  # servers must not mask, but unmasking costs nothing
            if len(b) < i + 4:
                return None
            key = bytes(b[i:i + 4])
            i += 4
        if len(b) < i + n:
            return None
        payload = bytearray(b[i:i + n]) if key else bytes(b[i:i + n])
        if key:
            mask(payload, 0, n, key)
            payload = bytes(payload)
        self._pos = i + n
        return bool(b0 & 0x80), b0 & 0x0F, payload
