"""Delivery of flash segments over the device WebSocket (docs/protocol.md §4).

One segment is one telemetry frame carrying the segment's batch id; the
session (plexus_core.session) decides seq numbers, the ack window, heartbeats
and clock sync. A segment is deleted from flash only when its frame is
acknowledged; frames in flight when a connection ends are sent again on the
next one (same batch id, so the gateway stores them once).
"""

import gc

from plexus_core import __version__, session as S, wsframe
from plexus_core.backoff import Backoff, goodbye_delay_ms
from plexus_core.net import rand01, tls_context
from plexus_core.wsconn import WsConn

SEND_PER_POLL = 4       # frames written per poll() at most
FRAMES_PER_POLL = 16    # server frames handled per poll() at most
MAX_MESSAGE = 16384     # acks, auth replies and command runs are small
LIMIT_HOLD_MS = 1000    # pause after a rate/plan limit refused a frame


class WsLink:
    def __init__(self, px):
        self.px = px
        self.url = px.url
        self.session = S.DeviceSession(px.api_key, px.source_id, __version__,
                                       platform="micropython", clock=px._clock)
        self.backoff = Backoff(rand01)
        self.ws = None        # the WsConn while connected
        self.retry_at = 0     # monotonic ms before which no reconnect is tried
        self.hold_until = 0   # monotonic ms before which no frame is sent
        self.flight = []      # [batch_id, seq] written and not yet acknowledged
        self._io = bytearray(512)    # socket reads, and frames written in pieces

    def connected(self):
        return self.ws is not None and self.session.state == S.READY

    # -- the poll step ---------------------------------------------------------------

    def poll(self, now, wait_ms):
        cmds = self.px._commands
        if self.ws is None:
            if not (self.px._log.seqs or cmds) or now - self.retry_at < 0:
                return  # connect while readings wait, or to hear commands
            if not self._connect(now):
                return
        elif cmds is not None and cmds.changed:  # declare new commands: reconnect
            self._drop("commands changed", now, 0)
            return
        self._receive(0)
        if self.ws is None:
            return
        s = self.session
        now = self.px._mono.ms()
        if s.auth_overdue(now) or s.ack_overdue(now):
            self._drop("the gateway did not answer in time", now)
            return
        if s.state == S.READY:
            hb = s.heartbeat(now)
            try:
                if hb:
                    self.ws.send(wsframe.TEXT, (hb.encode(),))
                if now - self.hold_until >= 0:
                    self._send_segments(now)
            except OSError as e:
                self._drop("sending failed: %r" % (e,), now)
                return
        if wait_ms:
            self._receive(wait_ms)

    def _connect(self, now):
        px = self.px
        gc.collect()  # a connect needs room for the handshake code: start compact
        scheme, host, port, path = self.url
        try:
            tls = tls_context(px.ca if px.tls_verify else None) if scheme == "wss" else None
            self.ws = WsConn(self.url, px.timeout_ms, tls, self._io, px._mono.ms, MAX_MESSAGE)
        except (OSError, ValueError) as e:
            self._drop("cannot open %s://%s:%d%s: %r" % (scheme, host, port, path, e), now)
            return False
        cmds = px._commands
        self.session.commands = cmds.manifest() if cmds is not None else None
        try:
            self.ws.send(wsframe.TEXT, (self.session.start(now).encode(),))  # device_auth
        except OSError as e:
            self._drop("sending device_auth failed: %r" % (e,), now)
            return False
        return True

    # -- writing ---------------------------------------------------------------------

    def _write_text(self, text):
        """For command statuses: True when written (the link drops on failure)."""
        if self.ws is None:
            return False
        try:
            self.ws.send(wsframe.TEXT, (text.encode(),))
            return True
        except OSError as e:
            self._drop("sending failed: %r" % (e,), self.px._mono.ms())
            return False

    def _next_seq(self):
        seqs = self.px._log.seqs
        if not self.flight:
            return seqs[0] if seqs else None
        last = self.flight[-1][1]
        for q in seqs:
            if q > last:
                return q
        return None

    def _send_segments(self, now):
        log = self.px._log
        s = self.session
        sent = 0
        while sent < SEND_PER_POLL:
            seq = self._next_seq()
            if seq is None or not s.can_send(log.npts[log.seqs.index(seq)]):
                return
            r = log.check(seq, self._io)
            if r is None:
                continue  # failed its CRC: removed and counted by the log
            bid, npts, plen = r
            # The session builds the frame around an empty point list; the
            # segment's payload goes between "[" and "]}" straight from flash.
            head = s.telemetry([""], bid, now, npts)
            try:
                self.ws.send(wsframe.TEXT, (head[:-2].encode(), b"]}"), (log, seq, plen))
            except OSError:
                s.unsend(bid)
                raise
            if s.acks:
                self.flight.append([bid, seq])
            else:
                log.delete(seq)  # a gateway without acks: written is all we get
            sent += 1

    # -- reading ---------------------------------------------------------------------

    def _receive(self, wait_ms):
        for _ in range(FRAMES_PER_POLL):
            if self.ws is None:
                return
            try:
                f = self.ws.recv(wait_ms)
            except wsframe.ProtocolError as e:
                self.ws.close(e.code)
                self._drop("WebSocket protocol error: %s" % e, self.px._mono.ms())
                return
            except OSError as e:
                self._drop("connection lost: %r" % (e,), self.px._mono.ms())
                return
            if f is None:
                return
            wait_ms = 0
            now = self.px._mono.ms()
            if f[0] == wsframe.TEXT:
                self._events(self.session.receive(f[1], now), now)
            elif f[0] == wsframe.CLOSE:
                code, reason = wsframe.parse_close(f[1])
                self.ws.close(code if code != 1005 else wsframe.NORMAL)
                if code == wsframe.GOING_AWAY:  # goodbye: the gateway is redeploying
                    self._drop("the gateway said goodbye (1001)", now, goodbye_delay_ms(rand01()))
                else:
                    self._drop("the gateway closed the connection (%d %s)" % (code, reason), now)

    def _events(self, events, now):
        px = self.px
        for ev in events:
            k = ev[0]
            if k == S.ACKED:
                for bid in ev[1]:
                    seq = self._take(bid)
                    if seq is not None:
                        px._log.delete(seq)
            elif k == S.AUTHENTICATED:
                self.backoff.reset()
                self.flight = []
                px.last_error = None
                if px._commands is not None:
                    px._commands.authenticated(self.session, self._write_text)
            elif k == S.COMMAND:
                if px._commands is not None:  # the handler runs now, inside poll()
                    px._commands.frame(ev[1], self._write_text)
            elif k == S.REJECTED:
                self._rejected(ev[1], ev[2], ev[3], now)
            elif k == S.ERROR:
                if ev[1] in S.LIMIT_CODES:
                    from plexus_core import refusals
                    refusals.frame_dropped(px, ev[1])
                else:
                    px.last_error = "gateway error %s: %s" % (ev[1], ev[2])
            elif k == S.AUTH_FAILED:
                from plexus_core import refusals
                refusals.key_refused(px, ": " + str(ev[1]))
                self._drop("authentication failed: %s" % ev[1], now)
                return

    def _rejected(self, bid, code, detail, now):
        from plexus_core import refusals
        px = self.px
        seq = self._take(bid)
        if code in S.LIMIT_CODES:  # not stored because of a limit: send it again later
            self.hold_until = now + LIMIT_HOLD_MS
            refusals.frame_held(px, code)
            return
        if seq is None:
            return
        log = px._log
        n = log.npts[log.seqs.index(seq)] if seq in log.seqs else 0
        log.delete(seq)
        refusals.batch_refused(px, n, "%s: %s" % (code, detail))

    def _take(self, bid):
        for i in range(len(self.flight)):
            if self.flight[i][0] == bid:
                return self.flight.pop(i)[1]
        return None

    # -- ending a connection -----------------------------------------------------------

    def _drop(self, why, now, delay=None):
        if self.ws is not None:
            self.ws.conn.close()
            self.ws = None
        self.session.lost()
        self.flight = []
        self.px.last_error = why
        self.retry_at = now + (self.backoff.next_ms() if delay is None else delay)

    def close(self):
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        self.session.lost()
        self.flight = []
