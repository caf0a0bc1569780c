"""One device WebSocket (websocket-client), as the sender thread uses it.

The sender thread is the only reader. Writes may come from any thread
(telemetry from the sender, binary video frames, command statuses):
websocket-client serialises them with its own lock. Close frames are
returned, not hidden, so a gateway's goodbye (1001) is seen at once (hidden, it
costs seconds of data at every gateway deploy).
Every blocking call has a timeout; the API key is never in the URL.
"""

import select
import socket
import ssl
import struct

import websocket

from plexus import switch_interval

TEXT = "text"
CLOSE = "close"

# Anything that means "this connection is over".
LOST = (websocket.WebSocketException, OSError, ssl.SSLError, socket.timeout,
        struct.error, ValueError)


_BYTES = bytes(range(256))
_BYTES_INT = int.from_bytes(_BYTES, "big")


def _xor_table(b):
    """translate() table that XORs every byte with b."""
    return (_BYTES_INT ^ int.from_bytes(bytes((b,)) * 256, "big")).to_bytes(256, "big")


class _Frame(websocket.ABNF):
    """A frame masked lane by lane with bytes.translate: about twice as fast
    as websocket-client's own masking, which every telemetry frame (up to
    900 KB) pays in full. The mask key is still a random one per frame."""

    def _get_masked(self, mask_key):
        data = self.data
        out = bytearray(data)
        for i in range(4):
            out[i::4] = data[i::4].translate(_xor_table(mask_key[i]))
        return mask_key + out


class WsConnection:
    def __init__(self, base_url, timeout):
        url = base_url.rstrip("/")
        if not url.endswith("/ws/device"):
            url += "/ws/device"
        self.timeout = timeout
        with switch_interval.briefly(switch_interval.HANDSHAKE_S):  # its byte-at-a-time reads (plexus/switch_interval.py)
            self._ws = websocket.create_connection(url, timeout=timeout, enable_multithread=True,
                                                   suppress_origin=True)

    def send_text(self, text):
        self._ws.send_frame(_Frame(1, 0, 0, 0, websocket.ABNF.OPCODE_TEXT, 1, text.encode()))

    def send_binary(self, data):
        self._ws.send_binary(data)

    def wait(self, timeout, also=None):
        """Wait until a frame can be read or `also` (a socket) is readable.

        Returns (frame_ready, also_ready)."""
        sock = self._ws.sock
        if sock is None:
            raise websocket.WebSocketConnectionClosedException("socket closed")
        pending = getattr(sock, "pending", None)
        if pending is not None and pending():
            return True, False  # TLS bytes already decrypted: select would not see them
        watch = [sock] if also is None else [sock, also]
        r, _, _ = select.select(watch, [], [], max(0.0, timeout))
        return sock in r, also is not None and also in r

    def recv(self):
        """One frame: (TEXT, str), (CLOSE, code) or None (ping, pong, binary)."""
        self._ws.settimeout(self.timeout)
        opcode, data = self._ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return TEXT, data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            self.abort()
            return CLOSE, code
        return None

    def close(self, code=1000):
        """Polite close: close frame, short wait for the answer, then the socket."""
        try:
            self._ws.close(status=code, timeout=1)
        except LOST:
            pass
        self.abort()

    def abort(self):
        """Drop the connection now (also wakes a reader in another thread)."""
        try:
            self._ws.abort()
        except LOST:
            pass
        try:
            self._ws.shutdown()
        except LOST:
            pass
