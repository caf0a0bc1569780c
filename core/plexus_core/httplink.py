"""Delivery of flash segments with POST /ingest (docs/protocol.md §2).

One segment is one request carrying the segment's batch id, on a kept-alive
connection. The answer is read through plexus_core.ingest (the same decision
table as CPython): stored -> delete; transient -> keep and back off; key
refused -> keep and report; the batch itself refused -> drop and report.
"""

from plexus_core import __version__, frames, ingest
from plexus_core.backoff import Backoff
from plexus_core.http11 import Response, date_ms, request_head
from plexus_core.net import Closed, Conn, host_header, rand01, tls_context

POST_PER_POLL = 4


class HttpLink:
    def __init__(self, px):
        self.px = px
        scheme, host, port, path = px.url
        self.scheme, self.host, self.port = scheme, host, port
        self.path = path.rstrip("/") + "/ingest"
        self.headers = {"Content-Type": "application/json", "x-api-key": px.api_key,
                        "User-Agent": "plexus-micropython/" + __version__}
        self.backoff = Backoff(rand01)
        self.conn = None
        self.retry_at = 0
        self._io = bytearray(512)    # segment pieces out, the answer in
        self._iomv = memoryview(self._io)

    def connected(self):
        return self.conn is not None

    def poll(self, now, wait_ms):
        log = self.px._log
        posted = 0
        while log.seqs and posted < POST_PER_POLL and now - self.retry_at >= 0:
            seq = log.seqs[0]
            r = log.check(seq, self._io)
            if r is None:
                continue  # failed its CRC: removed and counted by the log
            bid, npts, plen = r
            head = frames.ingest_body(self.px.source_id, [""], bid)[:-2].encode()
            try:
                status, body = self._post(head, seq, plen)
            except (OSError, ValueError) as e:
                self.close()
                self.px.last_error = "POST %s://%s:%d%s failed: %r" % (
                    self.scheme, self.host, self.port, self.path, e)
                self.retry_at = now + self.backoff.next_ms()
                return
            self._answer(status, body, seq, npts, now)
            posted += 1
            now = self.px._mono.ms()

    def _post(self, head, seq, plen):
        px = self.px
        n = len(head) + plen + 2
        req = request_head("POST", host_header(self.scheme, self.host, self.port),
                           self.path, self.headers, n) + head
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                tls = tls_context(px.ca if px.tls_verify else None) if self.scheme == "https" else None
                self.conn = Conn(self.host, self.port, px.timeout_ms, tls)
            try:
                return self._exchange(req, seq)
            except (OSError, ValueError):
                self.close()
                # A kept-alive connection the gateway had closed: one retry on a
                # new one (a repeat is harmless: the batch id makes it idempotent).
                if fresh or attempt:
                    raise

    def _exchange(self, req, seq):
        px = self.px
        c = self.conn
        c.write(req, px.timeout_ms)
        px._log.stream(seq, self._io, lambda mv: c.write(mv, px.timeout_ms))  # body from flash
        c.write(b"]}", px.timeout_ms)
        resp = Response()
        start = px._mono.ms()  # (the request went out just now: rtt from here)
        while not resp.done:
            left = px.timeout_ms - (px._mono.ms() - start)
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
        self._date_sync(resp.headers.get("date"), px._mono.ms() - start)
        return resp.status, resp.body

    def _date_sync(self, header, rtt_ms):
        """Without the WebSocket's server_time_ms, the Date header (whole
        seconds) is the gateway's clock: used only to fix an error over a
        second, so its coarseness never moves timestamps back and forth.
        Boards often start with no idea of the time, so this matters."""
        d = date_ms(header)
        if d is None:
            return
        clock = self.px._clock
        offset = d + 500 + rtt_ms // 2 - clock.local_ms()
        if abs(offset - clock.offset_ms) > 1000 + rtt_ms:
            clock.offset_ms = offset

    def _answer(self, status, body, seq, npts, now):
        px = self.px
        log = px._log
        kind = ingest.classify(status)
        if kind == ingest.OK:
            log.delete(seq)
            self.backoff.reset()
            px.last_error = None
            d = ingest.dropped_count(body)
            if d:
                from plexus_core import refusals
                refusals.points_dropped(px, d)
            return
        from plexus_core import refusals
        why = "HTTP %d: %s" % (status, ingest.error_text(body))
        if kind == ingest.REJECTED:
            log.delete(seq)
            refusals.batch_refused(px, npts, why)
            return
        px.last_error = why
        self.retry_at = now + self.backoff.next_ms()
        if kind == ingest.AUTH:
            refusals.key_refused(px, " (%s)" % why)
        elif kind == ingest.OTHER:
            refusals.answered(px, why)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
