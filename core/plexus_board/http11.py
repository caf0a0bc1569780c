"""A tiny HTTP/1.1 codec, sans-I/O: request heads out, responses in.

Enough for POST /ingest on a kept-alive connection and for the WebSocket
upgrade: status line, headers, and a body framed by Content-Length, chunked
transfer encoding or the end of the connection. The caller owns the socket.
"""

from plexus_board.httphead import MAX_HEAD, parse_head, request_head  # noqa: F401 (re-exported)

MAX_BODY = 65536    # gateway answers are small JSON documents


class Response:
    """Feed bytes as they arrive; `done` turns True once the whole response is in.

    Then: status, headers, body (bytes), keep_alive. Bytes after the response
    (none on a well-behaved connection) are in `rest`.
    """

    def __init__(self, head_only=False):
        self.head_only = head_only  # e.g. a 101 upgrade: no body follows
        self.status = None
        self.headers = None
        self.body = b""
        self.done = False
        self.keep_alive = True
        self.rest = b""
        self._buf = bytearray()
        self._length = None   # Content-Length, or None
        self._chunked = False
        self._eof_body = False

    def feed(self, data):
        if self.done:
            self.rest += bytes(data)
            return
        self._buf.extend(data)
        if self.status is None:
            i = bytes(self._buf).find(b"\r\n\r\n")
            if i < 0:
                if len(self._buf) > MAX_HEAD:
                    raise ValueError("HTTP response head over %d bytes" % MAX_HEAD)
                return
            self.status, self.headers = parse_head(self._buf[:i])
            self._buf = self._buf[i + 4:]
            h = self.headers
            conn = h.get("connection", "").lower()
            self.keep_alive = conn != "close"
            if self.head_only or self.status in (101, 204, 304) or self.status < 200:
                self._finish(b"", self._buf)
                return
            if "chunked" in h.get("transfer-encoding", "").lower():
                self._chunked = True
            elif "content-length" in h:
                try:
                    self._length = int(h["content-length"])
                except ValueError:
                    raise ValueError("bad Content-Length %r" % h["content-length"])
            else:
                self._eof_body = True  # body runs to the end of the connection
                self.keep_alive = False
        self._body()

    def eof(self):
        """The connection ended: completes a body that runs to the end."""
        if not self.done:
            if self._eof_body and self.status is not None:
                self._finish(bytes(self._buf), b"")
            else:
                raise ValueError("connection closed mid-response")

    def _body(self):
        b = self._buf
        if len(b) > MAX_BODY + 64:
            raise ValueError("HTTP response body over %d bytes" % MAX_BODY)
        if self._length is not None:
            if len(b) >= self._length:
                self._finish(bytes(b[:self._length]), b[self._length:])
        elif self._chunked:
            self._dechunk()

    def _dechunk(self):
        b = bytes(self._buf)
        out = []
        pos = 0
        while True:
            j = b.find(b"\r\n", pos)
            if j < 0:
                return
            size = b[pos:j].split(b";")[0].strip()
            try:
                n = int(size, 16)
            except ValueError:
                raise ValueError("bad chunk size %r" % size[:20])
            if n == 0:  # last chunk, then optional trailers and a blank line
                if b[j + 2:j + 4] == b"\r\n":
                    end = j + 4
                else:
                    k = b.find(b"\r\n\r\n", j)
                    if k < 0:
                        return
                    end = k + 4
                self._finish(b"".join(out), b[end:])
                return
            if len(b) < j + 2 + n + 2:
                return
            out.append(b[j + 2:j + 2 + n])
            pos = j + 2 + n + 2

    def _finish(self, body, rest):
        self.body = body
        self.rest = bytes(rest)
        self._buf = bytearray()
        self.done = True
