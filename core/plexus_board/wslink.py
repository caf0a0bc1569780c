"""Delivery of flash segments over the device WebSocket (docs/protocol.md §4).

One segment is one telemetry frame carrying the segment's batch id; the
session (plexus_core.session) decides seq numbers, the ack window, heartbeats
and clock sync, and plexus_core.delivery (the same state machine as CPython)
decides everything else: pacing, refusals, reconnect and refused-key
schedules. This module is I/O only. A segment is deleted from flash only
when the gateway confirmed it: its frame acknowledged, or, on a gateway that
does not acknowledge telemetry, its POST /ingest answered with the full
count (the HTTP link carries telemetry there while this socket stays up for
commands and heartbeats). Frames in flight when a connection ends are sent
again on the next one (same batch id, so the gateway stores them once).
"""

import gc

from plexus_core import __version__, delivery as D, session as S
from plexus_core.delivery import const
from plexus_board import wsframe
from plexus_board.net import rand01, tls_context
from plexus_board.wsconn import WsConn

_SEND_PER_POLL = const(4)       # frames written per poll() at most
_FRAMES_PER_POLL = const(16)    # server frames handled per poll() at most
_MAX_MESSAGE = const(16384)     # acks, auth replies and command runs are small
_HTTP_WHEN_WS_AWAY_MS = const(120000)  # longer than any reconnect backoff (<= 75 s)


class WsLink:
    def __init__(self, cfg, log, clock, mono, out):
        """cfg: the client's Settings; log: its FlashLog; clock: its Clock;
        mono: its Monotonic; out: where outcomes go (the client's public
        last_error, report() and counters). `commands` is set once the
        client has BoardCommands."""
        self.cfg = cfg
        self.log = log
        self.mono = mono
        self.out = out
        self.commands = None
        self.session = S.DeviceSession(cfg.api_key, cfg.source_id, __version__,
                                       platform="micropython", clock=clock)
        # Flash segments cannot be split yet: a refused one is dropped, counted.
        self.delivery = D.Delivery(self.session, clock, rand01, can_split=False)
        self.ws = None        # the WsConn while connected
        self.http = None      # the HTTP link, once telemetry has to go that way
        self._io = bytearray(512)    # socket reads, and frames written in pieces

    def connected(self):
        return self.ws is not None and self.session.state == S.READY

    # -- the poll step ---------------------------------------------------------------

    def poll(self, now, wait_ms):
        log = self.log
        cmds = self.commands
        d = self.delivery
        if self.ws is None:
            if (log.seqs or cmds) and d.connect_due(now):
                self._connect(now)  # connect while readings wait, or to hear commands
        elif cmds is not None and cmds.changed:  # declare new commands: reconnect
            self._end("commands changed", d.lost(now, 0, False))
            return
        self._receive(0)
        now = self.mono.ms()
        if self.ws is not None:
            if self.session.auth_overdue(now) or self.session.ack_overdue(now):
                self._end("the gateway did not answer in time", d.lost(now))
                return
            if self.session.state == S.READY:
                hb = self.session.heartbeat(now)
                try:
                    if hb:
                        self.ws.send(wsframe.TEXT, (hb.encode(),))
                    self._send_segments(now)
                except OSError as e:
                    self._end("sending failed: %r" % (e,), d.lost(self.mono.ms()))
                    return
        now = self.mono.ms()
        # Unlike CPython, a board does not post while its socket is only
        # reconnecting (both links at once cost heap a board may not have):
        # it posts beside an open socket without acks, or when the next
        # WebSocket try is minutes away (streaming not in the plan).
        if (log.seqs and d.path(now) == D.HTTP
                and (self.ws is not None or d.ws_at - now > _HTTP_WHEN_WS_AWAY_MS)):
            if self.http is None:  # loaded only when telemetry has to go that way
                gc.collect()
                from plexus_board.httplink import HttpLink
                self.http = HttpLink(self.cfg, log, None, self.mono, self.out, d, self._act, self._io)
            self.http.poll(now, 0)
        if wait_ms and self.ws is not None:
            self._receive(wait_ms)

    def _connect(self, now):
        cfg = self.cfg
        gc.collect()  # a connect needs room for the handshake code: start compact
        scheme, host, port, path = cfg.url
        try:
            tls = tls_context(cfg.ca if cfg.tls_verify else None) if scheme == "wss" else None
            self.ws = WsConn(cfg.url, cfg.timeout_ms, tls, self._io, self.mono.ms, _MAX_MESSAGE)
        except (OSError, ValueError) as e:
            self._end("cannot open %s://%s:%d%s: %r" % (scheme, host, port, path, e),
                      self.delivery.lost(now))
            return
        cmds = self.commands
        self.session.commands = cmds.manifest() if cmds is not None else None
        try:
            self.ws.send(wsframe.TEXT, (self.session.start(now).encode(),))  # device_auth
        except OSError as e:
            self._end("sending device_auth failed: %r" % (e,), self.delivery.lost(now))

    # -- writing ---------------------------------------------------------------------

    def _write_text(self, text):
        """For command statuses: True when written (the link drops on failure)."""
        if self.ws is None:
            return False
        try:
            self.ws.send(wsframe.TEXT, (text.encode(),))
            return True
        except OSError as e:
            self._end("sending failed: %r" % (e,), self.delivery.lost(self.mono.ms()))
            return False

    def _next_seq(self):
        seqs = self.log.seqs
        last = self.session.newest_in_flight()
        if last is None:
            return seqs[0] if seqs else None
        for q in seqs:
            if q > last:
                return q
        return None

    def _send_segments(self, now):
        log = self.log
        s = self.session
        d = self.delivery
        sent = 0
        while sent < _SEND_PER_POLL and d.path(now) == D.WS:  # (paced: >= 1 ms apart)
            seq = self._next_seq()
            if seq is None or not s.can_send(log.npts[log.seqs.index(seq)]):
                return
            r = log.check(seq, self._io)
            if r is None:
                continue  # failed its CRC: removed and counted by the log
            bid, npts, plen = r
            # The session builds the frame around an empty point list; the
            # segment's payload goes between "[" and "]}" straight from flash.
            head = d.frame([""], bid, seq, npts, now)
            try:
                self.ws.send(wsframe.TEXT, (head[:-2].encode(), b"]}"), (log, seq, plen))
            except OSError:
                s.unsend(seq)
                raise
            sent += 1
            now = self.mono.ms()

    # -- reading ---------------------------------------------------------------------

    def _receive(self, wait_ms):
        for _ in range(_FRAMES_PER_POLL):
            if self.ws is None:
                return
            try:
                f = self.ws.recv(wait_ms)
            except wsframe.ProtocolError as e:
                self.ws.close(e.code)
                self._end("WebSocket protocol error: %s" % e, self.delivery.lost(self.mono.ms()))
                return
            except OSError as e:
                self._end("connection lost: %r" % (e,), self.delivery.lost(self.mono.ms()))
                return
            if f is None:
                return
            wait_ms = 0
            now = self.mono.ms()
            if f[0] == wsframe.TEXT:
                self._act(self.delivery.receive(f[1], now))
            elif f[0] == wsframe.CLOSE:
                code, reason = wsframe.parse_close(f[1])
                self.ws.close(code if code != 1005 else wsframe.NORMAL)
                self._end("the gateway closed the connection (%d %s)" % (code, reason),
                          self.delivery.closed(code, now))

    def _act(self, acts):
        """Carry out the Delivery's actions."""
        cmds = self.commands
        for a in acts:
            k = a[0]
            if k == D.DELETE:
                self.out.last_error = None
                for seq in a[1]:
                    self.log.delete(seq)
            elif k == D.READY:
                self.out.last_error = None
                if cmds is not None:
                    cmds.authenticated(self.session, self._write_text)
            elif k == D.COMMAND:
                if cmds is not None:  # the handler runs now, inside poll()
                    cmds.frame(a[1], self._write_text)
            elif k == D.RECONNECT:
                self._close()
            elif k == D.DROP or k == D.REPORT and a[1] != D.LINK_DOWN and a[1] != D.LINK_UP:
                from plexus_board import refusals
                refusals.act(self.out, self.log, a)
            # RESEND: the segments are still on flash and go again in order

    # -- ending a connection -----------------------------------------------------------

    def _end(self, why, acts):
        self._close()
        self.out.last_error = why
        self._act(acts)

    def _close(self):
        if self.ws is not None:
            self.ws.conn.close()
            self.ws = None

    def close(self):
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        self.session.lost()
        if self.http is not None:
            self.http.close()
