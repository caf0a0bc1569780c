"""A WebSocket client connection over plexus_board.net: the opening
handshake (with the accept-key check), masked frames written in pieces
from one small buffer, and server frames read with pings answered.

Raises OSError for network trouble and wsframe.ProtocolError when the
server breaks the protocol (its `code` is the close code to send).
"""

import gc
import os

from plexus_board import wsframe
from plexus_board.net import Conn, host_header


class WsConn:
    def __init__(self, url, timeout_ms, tls, buf, ms, max_message):
        """url: (scheme, host, port, path); buf: the I/O buffer to use (512
        bytes is plenty); ms(): monotonic ms, for the handshake deadline."""
        scheme, host, port, path = url
        self.timeout_ms = timeout_ms
        self._io = buf
        self._iomv = memoryview(buf)
        self._hdr = bytearray(14)
        self._key = None
        self._phase = 0
        self.conn = Conn(host, port, timeout_ms, tls)
        try:
            rest = self._handshake(host_header(scheme, host, port), path, ms)
        except Exception:
            self.conn.close()
            raise
        self.reader = wsframe.Reader(max_message)
        if rest:
            self.reader.feed(rest)

    def _handshake(self, host, path, ms):
        from plexus_core import forget
        gc.collect()  # the connect's garbage (address lookup) goes before the handshake code comes
        from plexus_board import wshandshake
        try:
            return wshandshake.handshake(self.conn, host, path, os.urandom(16), self.timeout_ms, ms, self._io)
        finally:
            wshandshake = None
            forget("plexus_board.wshandshake")  # only a connect needs it: free its code
            forget("plexus_board.httphead")

    # -- writing -----------------------------------------------------------------------

    def send(self, op, parts, stream=None):
        """One masked frame of the parts. stream=(log, seq, length) puts that
        flash segment's payload after parts[0], read in pieces (no copy)."""
        n = stream[2] if stream else 0
        for p in parts:
            n += len(p)
        self._key = key = os.urandom(4)
        self._phase = 0
        hl = wsframe.header(op, n, key, self._hdr)
        self.conn.write(memoryview(self._hdr)[:hl], self.timeout_ms)
        for i in range(len(parts)):
            self._part(parts[i])
            if i == 0 and stream:
                stream[0].stream(stream[1], self._io, self._masked)

    def _part(self, data):
        mv = memoryview(data)
        buf = self._io
        i = 0
        while i < len(mv):
            k = min(len(buf), len(mv) - i)
            buf[:k] = mv[i:i + k]
            self._masked(memoryview(buf)[:k])
            i += k

    def _masked(self, mv):
        self._phase = wsframe.mask(mv, 0, len(mv), self._key, self._phase)
        self.conn.write(mv, self.timeout_ms)

    # -- reading -----------------------------------------------------------------------

    def recv(self, wait_ms):
        """(opcode, payload) of the next TEXT, BINARY or CLOSE frame, or None
        when nothing more came within wait_ms. Pings are answered here."""
        while True:
            f = self.reader.next()
            if f is None:
                n = self.conn.readinto(self._io, wait_ms)
                if n is None:
                    return None
                self.reader.feed(self._iomv[:n])
                wait_ms = 0
            elif f[0] == wsframe.PING:
                self.send(wsframe.PONG, (f[1],))
            elif f[0] != wsframe.PONG:
                return f

    def close(self, code=wsframe.NORMAL):
        """Send a close frame (best effort) and close the socket."""
        try:
            self.send(wsframe.CLOSE, (wsframe.close_payload(code),))
        except OSError:
            pass
        self.conn.close()
