"""Delivery of flash segments with POST /ingest (docs/protocol.md §2).

One segment is one request carrying the segment's batch id, on a kept-alive
connection. I/O only: plexus_core.delivery decides (the same state machine
as CPython): when a request may go (pacing, retry and refused-key
schedules), what its answer means (a 200 whose `count` is short is sent
again; a refused segment is dropped and counted), and the Date clock fix.
The WebSocket link uses this one for telemetry when its gateway does not
acknowledge, passing its own Delivery, action handler and I/O buffer (the
two never use it at the same time).
"""

from plexus_core import __version__, delivery as D, frames, ingest
from plexus_board.http11 import Response, request_head
from plexus_board.net import Closed, Conn, host_header, rand01, tls_context

POST_PER_POLL = 4


class HttpLink:
    def __init__(self, cfg, log, clock, mono, out, delivery=None, act=None, buf=None):
        """cfg: the client's Settings; log: its FlashLog; clock: its Clock;
        mono: its Monotonic; out: where outcomes go (the client's public
        last_error, report() and counters)."""
        self.cfg = cfg
        self.log = log
        self.mono = mono
        self.out = out
        scheme, host, port, path = cfg.ingest_url
        self.scheme, self.host, self.port = scheme, host, port
        self.path = path.rstrip("/") + "/ingest"
        self.headers = {"Content-Type": "application/json", "x-api-key": cfg.api_key,
                        "User-Agent": "plexus-micropython/" + __version__}
        # Flash segments cannot be split yet: a refused one is dropped, counted.
        self.delivery = delivery or D.Delivery(None, clock, rand01, can_split=False)
        self.act = act or self._act
        self.conn = None
        self._io = buf or bytearray(512)  # segment pieces out, the answer in
        self._iomv = memoryview(self._io)

    def connected(self):
        return self.conn is not None

    def poll(self, now, wait_ms):
        log = self.log
        d = self.delivery
        posted = 0
        while log.seqs and posted < POST_PER_POLL and d.path(now) == D.HTTP:
            seq = log.seqs[0]
            r = log.check(seq, self._io)
            if r is None:
                continue  # failed its CRC: removed and counted by the log
            bid, npts, plen = r
            head = frames.ingest_body(self.cfg.source_id, [""], bid)[:-2].encode()
            try:
                status, body, date, rtt = self._post(head, seq, plen)
            except (OSError, ValueError) as e:
                self.close()
                self.out.last_error = "POST %s://%s:%d%s failed: %r" % (
                    self.scheme, self.host, self.port, self.path, e)
                self.act(d.post_failed(seq, self.mono.ms()))
                return
            now = self.mono.ms()
            self.act(ingest.answered(d, seq, npts, status, body, date, rtt, now))
            posted += 1

    def _act(self, acts):
        """The Delivery's actions for a board that only speaks HTTP."""
        for a in acts:
            k = a[0]
            if k == D.DELETE:
                self.out.last_error = None
                for seq in a[1]:
                    self.log.delete(seq)
            elif k == D.DROP or k == D.REPORT and a[1] != D.LINK_DOWN and a[1] != D.LINK_UP:
                from plexus_board import refusals
                refusals.act(self.out, self.log, a)

    def _post(self, head, seq, plen):
        cfg = self.cfg
        n = len(head) + plen + 2
        req = request_head("POST", host_header(self.scheme, self.host, self.port),
                           self.path, self.headers, n) + head
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                tls = tls_context(cfg.ca if cfg.tls_verify else None) if self.scheme == "https" else None
                self.conn = Conn(self.host, self.port, cfg.timeout_ms, tls)
            try:
                return self._exchange(req, seq)
            except (OSError, ValueError):
                self.close()
                # A kept-alive connection the gateway had closed: one retry on a
                # new one (a repeat is harmless: the batch id makes it idempotent).
                if fresh or attempt:
                    raise

    def _exchange(self, req, seq):
        timeout = self.cfg.timeout_ms
        mono = self.mono
        c = self.conn
        c.write(req, timeout)
        self.log.stream(seq, self._io, lambda mv: c.write(mv, timeout))  # body from flash
        c.write(b"]}", timeout)
        resp = Response()
        start = mono.ms()  # (the request went out just now: rtt from here)
        while not resp.done:
            left = timeout - (mono.ms() - start)
            if left <= 0:
                raise OSError(110)
            try:
                k = c.readinto(self._io, left)
            except Closed:
                resp.eof()  # raises unless the body runs to the end of the connection
                break
            if k is not None:
                resp.feed(self._iomv[:k])
        if not resp.keep_alive:
            self.close()
        return resp.status, resp.body, ingest.date_ms(resp.headers.get("date")), mono.ms() - start

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
