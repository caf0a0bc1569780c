"""Socket I/O for the board transports: connect with a timeout, optional
verified TLS, and reads/writes where every call has a deadline.

Ports report a timeout as OSError EAGAIN (11) or ETIMEDOUT (110) depending
on the call; both mean "timeout" here. TCP_NODELAY is set where the port
has it: without it a small request/response exchange stalls ~40 ms.

socket and select are imported only to connect: a board without networking
(a Pico without Wi-Fi) has neither, and must still buffer readings on flash.
"""

EAGAIN = 11
ETIMEDOUT = 110
_TIMEOUTS = (EAGAIN, ETIMEDOUT, 35, 60)  # 35/60: the macOS numbers, for CPython dev runs


class Closed(OSError):
    """The peer closed the connection."""


def host_header(scheme, host, port):
    """The Host header value: the port only when it is not the scheme's default."""
    if port == (443 if scheme in ("https", "wss") else 80):
        return host
    return "%s:%d" % (host, port)


def rand01():
    """A float in [0, 1) for backoff jitter."""
    import os
    b = os.urandom(2)
    return (b[0] << 8 | b[1]) / 65536


def is_timeout(e):
    if not isinstance(e, OSError):
        return False
    n = e.args[0] if e.args else None
    if n in _TIMEOUTS:
        return True
    return type(e).__name__ in ("timeout", "TimeoutError")  # CPython


def tls_context(ca):
    """A verifying client TLS context (plexus_board.tlsctx, loaded only by
    boards that reach an https/wss gateway)."""
    from plexus_board.tlsctx import context
    return context(ca)


class Conn:
    """One TCP (or TLS) connection with a timeout on every call.

    After connecting the socket is non-blocking and waits go through
    select.poll: a blocking readinto() on MicroPython waits to fill the
    whole buffer, which would stall every small answer until the timeout."""

    def __init__(self, host, port, timeout_ms, tls=None):
        """tls: None for plain TCP, else a context from tls_context()."""
        try:
            import select
            import socket
        except ImportError as e:  # an OSError, so links count it as an outage: readings wait
            raise OSError("this board has no network stack (%r); readings wait on flash" % (e,))
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
        s = socket.socket(ai[0], socket.SOCK_STREAM)
        self.sock = s
        try:
            s.settimeout(timeout_ms / 1000)
            s.connect(ai[-1])
            try:
                s.setsockopt(getattr(socket, "IPPROTO_TCP", 6), getattr(socket, "TCP_NODELAY", 1), 1)
            except (OSError, AttributeError):
                pass  # ports without the option
            if tls is not None:
                s = tls.wrap_socket(s, server_hostname=host)  # handshake under the same timeout
                self.sock = s
            s.setblocking(False)
        except Exception:
            self.close()
            raise
        self._write = getattr(s, "write", None) or s.send
        self._readinto = getattr(s, "readinto", None) or s.recv_into
        self._poll = select.poll()
        self._in = select.POLLIN
        self._out = select.POLLOUT
        self._poll.register(s, self._in)
        self._events = self._in

    def _wait(self, events, timeout_ms):
        """True when the socket is ready (or failed: the next call says how)."""
        if events != self._events:
            self._poll.modify(self.sock, events)
            self._events = events
        return bool(self._poll.poll(timeout_ms))

    def _io(self, fn, arg):
        try:
            return fn(arg)
        except OSError as e:
            if is_timeout(e):
                return None  # would block
            raise

    def write(self, data, timeout_ms):
        """Write all of data; raises OSError (ETIMEDOUT) if the peer stops
        taking it for timeout_ms."""
        mv = memoryview(data)
        n = len(mv)
        off = 0
        while off < n:
            k = self._io(self._write, mv[off:])
            if k:
                off += k
            elif not self._wait(self._out, timeout_ms):
                raise OSError(ETIMEDOUT)

    def readinto(self, buf, timeout_ms):
        """Bytes read into buf (> 0), or None when nothing came within
        timeout_ms (0: do not wait). Raises Closed at the end of the stream."""
        k = self._io(self._readinto, buf)
        if k is None and timeout_ms > 0 and self._wait(self._in, timeout_ms):
            k = self._io(self._readinto, buf)
        if k is None:
            return None
        if k == 0:
            raise Closed("connection closed by the peer")
        return k

    def close(self):
        s, self.sock = self.sock, None
        if s is not None:
            try:
                s.close()
            except OSError:
                pass
