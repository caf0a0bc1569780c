"""The delivery policy of both runtimes, as one sans-I/O state machine.

The CPython sender and the board links do the I/O (sockets, SQLite, flash)
and tell a Delivery what happened; it answers with actions. It owns what is
in flight (over the WebSocket in the session's window, by storage key, so
an ack names what to delete; over HTTP one request at a time, named in its
answer), the refusal policy, pacing, the reconnect, HTTP-retry and
refused-key schedules, and the HTTP Date clock fix, so a board and a
Raspberry Pi behave alike. Its less frequent transitions are written in
plexus_core.setbacks (a connection ended, no answer, a refusal) and
plexus_core.ingest (an /ingest answer), loaded only when they happen, so a
board's heap holds only the common path.

    d = Delivery(session, clock, rand01, can_split=True)
    d.path(now)                -> WS, HTTP or None: where telemetry may go now
    d.frame(parts, bid, key, n, now) -> telemetry frame text (WS)
    ingest.answered(d, key, n, status, body, date_ms, rtt_ms, now) -> actions
    d.post_failed(key, now)            -> actions (HTTP: no answer)
    d.receive(text, now), d.lost(now), d.closed(code, now) -> actions

Nothing is deleted on a mere write: a gateway that acknowledges telemetry
(`acks` in its `authenticated` reply) gets it on the WebSocket, deleted on
its ack; one that does not gets it over POST /ingest, whose 200 comes after
the gateway stored the batch, while the WebSocket stays up for commands and
heartbeats. Times are integer monotonic ms.
"""


from plexus_core import forget

try:
    from micropython import const
except ImportError:  # CPython
    const = int

# Private constants: compiled into the code on MicroPython (no heap).
# DeviceSession states (plexus_core.session; not imported here: a board
# that only speaks HTTP never loads the session).
_CLOSED = const(0)
_AUTHENTICATING = const(1)
_SESSION_READY = const(2)

# Actions: tuples whose first item is one of these.
DELETE = 1      # (DELETE, [key, ...])  stored by the gateway: remove them
RESEND = 2      # (RESEND, [key, ...])  not stored: keep them, send again first
SPLIT = 3       # (SPLIT, key, why)     refused as invalid: halve it (one reading: drop it)
DROP = 4        # (DROP, key, why)      refused as invalid: drop it, count its readings
RECONNECT = 5   # (RECONNECT, after_ms) close the socket; connect again after this
READY = 6       # (READY, reply)        authenticated: run what follows an auth
COMMAND = 7     # (COMMAND, frame)      for the command layer
REPORT = 8      # (REPORT, kind, detail) tell the user; kinds below

# REPORT kinds
KEY_REFUSED = 11   # detail: why; readings are kept
NO_PLAN = 12       # streaming is not in the plan: telemetry goes over HTTP
HELD = 13          # not stored for a limit: kept and sent again (detail: code)
LIMITED = 14       # a limit error not tied to a frame (detail: code)
ANSWERED = 15      # an /ingest answer nothing can be done about (detail: why)
GATEWAY_ERROR = 16  # another error frame (detail: "code: detail")
LINK_UP = 17       # the gateway is reachable (detail: True when it is back)
LINK_DOWN = 18     # it was reachable and is not any more

# Where telemetry may go now (path()).
WS = 21
HTTP = 22

# The hosted gateway silently drops a source's telemetry message arriving
# less than 0.5 ms after the previous one. Clocks tick in whole ms, so two
# ticks apart is at least 1 ms apart.
PACE_MS = 2


def setbacks():
    """plexus_core.setbacks: what follows a setback (a connection ended, no
    answer, a refusal). Call done() after using it: a board keeps that code
    (and the reconnect schedule) off its heap in between."""
    from plexus_core import setbacks
    return setbacks


def done():
    forget("plexus_core.setbacks")
    forget("plexus_core.backoff")


class Delivery:
    # The action kinds plexus_core.setbacks builds, read there from the
    # Delivery it is given (d.RESEND): it imports nothing of this module.
    RESEND, RECONNECT, REPORT, SPLIT, DROP = RESEND, RECONNECT, REPORT, SPLIT, DROP
    HELD, NO_PLAN, KEY_REFUSED = HELD, NO_PLAN, KEY_REFUSED

    def __init__(self, session, clock, rand, can_split, http_retry_ms=None):
        """session: the DeviceSession (None for a client without a
        WebSocket); clock: the Clock the Date header corrects; rand(): a
        float in [0, 1) for jitter;
        can_split: the store can split a refused batch in place;
        http_retry_ms(attempt): delay before HTTP retry `attempt` (default:
        the reconnect schedule)."""
        self.session = session
        self.clock = clock
        self.rand = rand
        self.can_split = can_split
        self.http_retry_ms = http_retry_ms
        self.attempt = 0        # reconnects since the last authentication
        self.http_attempt = 0
        self.auth_failures = 0
        self.ws_at = 0          # no WebSocket connect before this
        self.http_at = 0        # no POST /ingest before this
        self.hold_until = 0     # no telemetry at all before this
        self.last_sent = -PACE_MS  # when the last telemetry message went (pacing)
        self.up = None          # the gateway is reachable (None: not known yet)

    # -- where and when telemetry may go ------------------------------------------

    def path(self, now):
        """WS or HTTP when a telemetry message may go now, else None."""
        if now - self.hold_until < 0:
            return None
        if now - self.last_sent < PACE_MS:
            return None
        s = self.session
        if s is not None and s.state == _SESSION_READY and s.acks:
            return WS
        if s is not None and s.state == _AUTHENTICATING or now - self.http_at < 0:
            return None  # (while authenticating: learn first whether it acknowledges)
        return HTTP

    def connect_due(self, now):
        return self.session.state == _CLOSED and now - self.ws_at >= 0

    def kick(self, now):
        """Deliver now (flush): skip the pending retry delays once."""
        self.http_at = now
        if self.session is not None and self.session.state == _CLOSED:
            self.ws_at = now

    # -- WebSocket ----------------------------------------------------------------

    def frame(self, encoded_points, batch_id, key, npoints, now):
        """The telemetry frame for a stored batch (path() said WS)."""
        self.last_sent = now
        return self.session.telemetry(encoded_points, batch_id, now, npoints, key)

    def receive(self, text, now):
        from plexus_core import session as S  # (loaded already: the link has a session)
        acts = []
        for ev in self.session.receive(text, now):
            k = ev[0]
            if k == S.ACKED:
                acts.append((DELETE, ev[1]))
            elif k == S.REJECTED:
                try:
                    acts += setbacks().refused(self, ev[1], ev[2], ev[3], now)
                finally:
                    done()
            elif k == S.COMMAND:
                acts.append((COMMAND, ev[1]))
            elif k == S.AUTHENTICATED:
                self.attempt = 0
                self.auth_failures = 0
                acts += self._link(True)
                acts.append((READY, ev[1]))
            elif k == S.AUTH_FAILED:
                try:
                    return acts + setbacks().refused(self, None, ev[2], ev[1], now)
                finally:
                    done()
            elif k == S.ERROR:
                if ev[1] in S.LIMIT_CODES:
                    acts.append((REPORT, LIMITED, ev[1]))
                elif ev[1]:
                    acts.append((REPORT, GATEWAY_ERROR, "%s: %s" % (ev[1], ev[2])))
        return acts

    def lost(self, now, delay_ms=None, down=True):
        """The connection ended (not by closed()): what was in flight is
        resent; a reconnect after delay_ms (default: the backoff schedule);
        down=False when it ended on purpose (not a lost link)."""
        try:
            return setbacks().lost(self, now, delay_ms, down)
        finally:
            done()

    def closed(self, code, now):
        """The gateway closed the connection with this close code."""
        try:
            return setbacks().closed(self, code, now)
        finally:
            done()

    def post_failed(self, key, now):
        """No answer to the POST /ingest of `key` (refused, reset, timeout)."""
        try:
            return setbacks().post_failed(self, key, now)
        finally:
            done()

    # -- reachability ---------------------------------------------------------------

    def _link(self, up):
        was = self.up
        if was is up:
            return []
        self.up = up
        if up:
            return [(REPORT, LINK_UP, was is False)]
        return [(REPORT, LINK_DOWN, "")] if was else []
