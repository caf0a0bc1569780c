"""The WebSocket opening handshake (RFC 6455 §4), client side: the key,
the upgrade request, the accept-key check.

Loaded for a connect and dropped after it (plexus_board.wsconn): on a board
only the framing (plexus_board.wsframe) stays in memory between connects.
"""

from binascii import b2a_base64

from plexus_board.httphead import MAX_HEAD, parse_head, request_head
from plexus_board.wsframe import ProtocolError

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _b64(b):
    return b2a_base64(b)[:-1]  # both runtimes append a newline


def new_key(random16):
    """Sec-WebSocket-Key from 16 random bytes."""
    return _b64(random16).decode()


def accept_for(key):
    import hashlib
    return _b64(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def handshake_request(host, path, key):
    return request_head("GET", host, path, {
        "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"})


def check_handshake(status, headers, key):
    """Raise ProtocolError unless the server switched to our WebSocket."""
    if status != 101:
        raise ProtocolError("WebSocket upgrade refused with HTTP %d" % status)
    if headers.get("upgrade", "").lower() != "websocket":
        raise ProtocolError("WebSocket upgrade answered without 'Upgrade: websocket'")
    if headers.get("sec-websocket-accept") != accept_for(key):
        raise ProtocolError("WebSocket upgrade with a wrong Sec-WebSocket-Accept")


def handshake(conn, host, path, random16, timeout_ms, ms, buf):
    """Upgrade the connection (a net.Conn); returns the bytes that came after
    the response head (frames the server sent at once). ms(): monotonic ms.
    Raises OSError (ETIMEDOUT) or ProtocolError."""
    key = new_key(random16)
    conn.write(handshake_request(host, path, key), timeout_ms)
    mv = memoryview(buf)
    got = bytearray()
    start = ms()
    while True:
        left = timeout_ms - (ms() - start)
        n = conn.readinto(buf, left) if left > 0 else None
        if n is None:
            raise OSError(110)  # ETIMEDOUT
        got.extend(mv[:n])
        i = got.find(b"\r\n\r\n")
        if i >= 0:
            break
        if len(got) > MAX_HEAD:
            raise ValueError("HTTP response head over %d bytes" % MAX_HEAD)
    status, headers = parse_head(memoryview(got)[:i])
    check_handshake(status, headers, key)
    return bytes(got[i + 4:])
