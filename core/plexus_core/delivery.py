"""The delivery policy of both runtimes, as one sans-I/O state machine.

The CPython sender and the board links do the I/O (sockets, SQLite, flash)
and tell a Delivery what happened; it answers with actions. It owns what is
in flight (over the WebSocket in the session's window, by storage key; over
HTTP the one request waiting for its answer), the refusal policy, pacing,
the reconnect, HTTP-retry and refused-key schedules, and the HTTP Date
clock fix, so a board and a Raspberry Pi behave alike.

    d = Delivery(session, rand01, can_split=True)
    d.path(now)                -> WS, HTTP or None: where telemetry may go now
    d.frame(parts, bid, key, n, now) -> telemetry frame text (WS)
    d.post(key, n, now); d.posted(status, body, date_ms, rtt_ms, now) (HTTP)
    d.receive(text, now), d.lost(now), d.closed(code, now) -> actions

Nothing is deleted on a mere write: a gateway that acknowledges telemetry
(`acks` in its `authenticated` reply) gets it on the WebSocket, deleted on
its ack; one that does not gets it over POST /ingest, whose 200 comes after
the gateway stored the batch, while the WebSocket stays up for commands and
heartbeats. Times are integer monotonic ms.
"""

from plexus_core import ingest, session as S
from plexus_core.backoff import Backoff, goodbye_delay_ms, reconnect_delay_ms

# Actions: tuples whose first item is one of these.
DELETE = "delete"        # (DELETE, [key, ...])  stored by the gateway: remove them
RESEND = "resend"        # (RESEND, [key, ...])  not stored: keep them, send again first
SPLIT = "split"          # (SPLIT, key, why)     refused as invalid: halve it (one reading: drop it)
DROP = "drop"            # (DROP, key, why)      refused as invalid: drop it, count its readings
RECONNECT = "reconnect"  # (RECONNECT, after_ms) close the socket; connect again after this
READY = "ready"          # (READY, reply)        authenticated: run what follows an auth
COMMAND = "command"      # (COMMAND, frame)      for the command layer
REPORT = "report"        # (REPORT, kind, detail) tell the user; kinds below

# REPORT kinds
KEY_REFUSED = "key_refused"  # detail: why; readings are kept
NO_PLAN = "no_plan"          # streaming is not in the plan: telemetry goes over HTTP
HELD = "held"                # not stored for a limit: kept and sent again (detail: code)
LIMITED = "limited"          # a limit error not tied to a frame (detail: code)
ANSWERED = "answered"        # an /ingest answer nothing can be done about (detail: why)
GATEWAY_ERROR = "error"      # another error frame (detail: "code: detail")
LINK_UP = "link_up"          # the gateway is reachable (detail: True when it is back)
LINK_DOWN = "link_down"      # it was reachable and is not any more

# Where telemetry may go now (path()).
WS = "ws"
HTTP = "http"

# The hosted gateway silently drops a source's telemetry message arriving
# less than 0.5 ms after the previous one. Clocks tick in whole ms, so two
# ticks apart is at least 1 ms apart.
PACE_MS = 2
LIMIT_HOLD_MS = 1000      # after a frame was refused for a rate limit
# A refused key is fixed by a person, not by time: retry slowly, 1 min
# doubling to 30 min (+0-25 % jitter), on both runtimes. A fleet whose key
# was revoked would otherwise load the gateway's key lookup every minute
# forever; a restart (or flush) tries again at once.
AUTH_RETRY_MS = 60000
AUTH_RETRY_MAX_MS = 1800000
NO_PLAN_RETRY_MS = 600000  # streaming not in the plan: HTTP only, ask again later
PLAN_CODE = "streaming_requires_plan"


class Delivery:
    def __init__(self, session, rand, can_split, http_retry_ms=None):
        """session: the DeviceSession; rand(): a float in [0, 1) for jitter;
        can_split: the store can split a refused batch in place;
        http_retry_ms(attempt): delay before HTTP retry `attempt` (default:
        the reconnect schedule)."""
        self.session = session
        self.rand = rand
        self.can_split = can_split
        self.backoff = Backoff(rand)
        self.http_retry_ms = http_retry_ms
        self.http_attempt = 0
        self.auth_failures = 0
        self.ws_at = 0          # no WebSocket connect before this
        self.http_at = 0        # no POST /ingest before this
        self.hold_until = 0     # no telemetry at all before this
        self.last_sent = None   # when the last telemetry message went (pacing)
        self.posting = None     # (key, n) of the /ingest request awaiting its answer
        self.up = None          # the gateway is reachable (None: not known yet)

    # -- where and when telemetry may go ------------------------------------------

    def path(self, now):
        """WS or HTTP when a telemetry message may go now, else None."""
        if now - self.hold_until < 0:
            return None
        if self.last_sent is not None and now - self.last_sent < PACE_MS:
            return None
        s = self.session
        if s.state == S.READY and s.acks:
            return WS
        if s.state == S.AUTHENTICATING or now - self.http_at < 0:
            return None  # (while authenticating: learn first whether it acknowledges)
        return HTTP

    def wait_ms(self, now):
        """How long until path() may change on its own (at most 1 s)."""
        t = now + 1000
        for at in (self.hold_until, self.http_at,
                   None if self.last_sent is None else self.last_sent + PACE_MS):
            if at is not None and at - now > 0 and at - t < 0:
                t = at
        return t - now if t - now > 0 else 0

    def connect_due(self, now):
        return self.session.state == S.CLOSED and now - self.ws_at >= 0

    def kick(self, now):
        """Deliver now (flush): skip the pending retry delays once."""
        self.http_at = now
        if self.session.state == S.CLOSED:
            self.ws_at = now

    # -- WebSocket ----------------------------------------------------------------

    def frame(self, encoded_points, batch_id, key, npoints, now):
        """The telemetry frame for a stored batch (path() said WS)."""
        self.last_sent = now
        return self.session.telemetry(encoded_points, batch_id, now, npoints, key)

    def unsend(self, key):
        """Writing the frame failed: it is not in flight."""
        self.session.unsend(key)

    def overdue(self, now):
        """Why the connection should be dropped now, or None."""
        s = self.session
        if s.auth_overdue(now):
            return "no answer to device_auth"
        if s.ack_overdue(now):
            return "acknowledgements overdue"
        return None

    def receive(self, text, now):
        acts = []
        for ev in self.session.receive(text, now):
            k = ev[0]
            if k == S.ACKED:
                acts.append((DELETE, ev[1]))
            elif k == S.REJECTED:
                acts += self._refused(ev[1], ev[2], ev[3], now)
            elif k == S.COMMAND:
                acts.append((COMMAND, ev[1]))
            elif k == S.AUTHENTICATED:
                self.backoff.reset()
                self.auth_failures = 0
                acts += self._link(True)
                acts.append((READY, ev[1]))
            elif k == S.AUTH_FAILED:
                return acts + self._auth_failed(ev[1], ev[2], now)
            elif k == S.ERROR:
                if ev[1] in S.LIMIT_CODES:
                    acts.append((REPORT, LIMITED, ev[1]))
                elif ev[1]:
                    acts.append((REPORT, GATEWAY_ERROR, "%s: %s" % (ev[1], ev[2])))
        return acts

    def _refused(self, key, code, detail, now):
        if code in S.LIMIT_CODES:  # intact, not stored for a limit: later, again
            self.hold_until = now + LIMIT_HOLD_MS
            return [(RESEND, [key]), (REPORT, HELD, code)]
        return [self._invalid(key, "%s: %s" % (code, detail))]

    def _invalid(self, key, why):
        # The one difference between runtimes: a store that can split a
        # batch isolates the bad reading; flash segments cannot be split yet.
        return (SPLIT if self.can_split else DROP, key, why)

    def lost(self, now, delay_ms=None, down=True):
        """The connection ended (not by closed()): what was in flight is resent."""
        keys = self.session.lost()
        acts = [(RESEND, keys)] if keys else []
        if down:
            acts += self._link(False)
        if delay_ms is None:
            delay_ms = self.backoff.next_ms()
        self.ws_at = now + delay_ms
        if not self.auth_failures:
            self.http_at = now  # over HTTP at once meanwhile
        acts.append((RECONNECT, delay_ms))
        return acts

    def closed(self, code, now):
        """The gateway closed the connection with this close code."""
        if code == 1001:  # goodbye: it is redeploying, back in a moment
            return self.lost(now, goodbye_delay_ms(self.rand()))
        if code == 1008 and self.session.state == S.AUTHENTICATING:
            return self._auth_failed("connection closed during auth (1008)", None, now)
        return self.lost(now)

    def _auth_failed(self, why, code, now):
        if code == PLAN_CODE:  # the key is fine: no streaming on this plan
            return [(REPORT, NO_PLAN, why)] + self.lost(now, NO_PLAN_RETRY_MS, False)
        d = self._key_refused(now)
        return [(REPORT, KEY_REFUSED, why)] + self.lost(now, d)

    def _key_refused(self, now):
        n = self.auth_failures if self.auth_failures < 10 else 10
        self.auth_failures += 1
        d = AUTH_RETRY_MS << n
        if d > AUTH_RETRY_MAX_MS:
            d = AUTH_RETRY_MAX_MS
        d += int(d * self.rand()) // 4
        self.http_at = now + d
        return d

    # -- HTTP /ingest -------------------------------------------------------------

    def post(self, key, npoints, now):
        """A POST /ingest of this stored batch goes out now (path() said HTTP)."""
        self.posting = (key, npoints)
        self.last_sent = now

    def posted(self, status, body, date_ms, rtt_ms, now):
        """Its answer: status, body, the Date header in epoch ms (or None)."""
        key, n = self.posting
        self.posting = None
        self.last_sent = now  # the gateway counted it before answering: pace from here
        self._date(date_ms, rtt_ms)
        kind = ingest.classify(status)
        if kind == ingest.OK:
            self.http_attempt = 0
            self.auth_failures = 0
            acts = self._link(True)
            if ingest.stored_count(body, n) < n:
                # One source per request: a gateway over the source's limit
                # skips the whole request (hosted: silently, a lower count),
                # so none of it is known stored. Same batch id again.
                acts.append((RESEND, [key]))
                acts.append((REPORT, HELD, "SOURCE_LIMIT"))
            else:
                acts.append((DELETE, [key]))
            return acts
        why = "HTTP %d: %s" % (status, ingest.error_text(body))
        if kind == ingest.REJECTED:
            return [self._invalid(key, why)]
        if kind == ingest.AUTH:
            self._key_refused(now)
            return [(RESEND, [key]), (REPORT, KEY_REFUSED, why)] + self._link(False)
        acts = self._http_failed(key, now)
        if kind == ingest.OTHER:
            acts.append((REPORT, ANSWERED, why))
        return acts

    def post_failed(self, now):
        """No answer (connection refused, reset, timeout)."""
        key = self.posting[0]
        self.posting = None
        return self._http_failed(key, now)

    def _http_failed(self, key, now):
        f = self.http_retry_ms
        a = self.http_attempt
        self.http_at = now + (f(a) if f is not None else reconnect_delay_ms(a, self.rand() * 2 - 1))
        self.http_attempt = a + 1
        return [(RESEND, [key])] + self._link(False)

    def _date(self, date_ms, rtt_ms):
        """Without a WebSocket time sample, the Date header (whole seconds) is
        the gateway's clock: used only to fix an error over a second, so its
        coarseness never moves timestamps back and forth."""
        clock = self.session.clock
        if date_ms is None or clock is None or clock.synced:
            return
        offset = date_ms + 500 + rtt_ms // 2 - clock.local_ms()
        if abs(offset - clock.offset_ms) > 1000 + rtt_ms:
            clock.offset_ms = offset

    # -- reachability ---------------------------------------------------------------

    def _link(self, up):
        was = self.up
        if was is up:
            return []
        self.up = up
        if up:
            return [(REPORT, LINK_UP, was is False)]
        return [(REPORT, LINK_DOWN, "")] if was else []
