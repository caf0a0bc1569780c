"""The background sender: store -> gateway, oldest first, until confirmed.

I/O only: the delivery policy (what is in flight, refusals, pacing, retry
and refused-key schedules, the Date clock fix) is plexus_core.delivery, the
same state machine the board links use. One daemon thread owns the device
WebSocket, the DeviceSession and the Delivery; it tells the Delivery what
happened and carries out the actions it answers.

A stored batch is deleted only when a gateway confirmed it: an
acknowledgement on the WebSocket, or a 200 from POST /ingest whose `count`
says all of it was stored. A gateway that does not acknowledge telemetry
(the hosted one today) gets it over /ingest while the WebSocket stays up for
commands and heartbeats; when the socket is down, /ingest carries it too, so
order holds across both paths. Whatever was in flight when a connection
ends is still in the store and goes out again first with the same batch id,
so a crash loses nothing and a resend is stored once. A batch refused as invalid is split in halves until the bad reading
is alone, then that reading is dropped and reported, so one bad reading
never holds up the rest.

Live traffic is sent from memory: the committer hands over each row it just
wrote (`committed(rows)`), and once the sender has sent everything the store
held on this connection it takes the next rows from that hand-over instead
of reading them back; the store is read only after a reconnect, an outage
or while it holds more than the hand-over keeps (then small unsent rows are
merged into one, so a backlog drains in the largest frames the gateway
allows).

Seams for commands and video: `on_command(frame)` gets every command frame,
`on_authenticated()` runs after each auth (before telemetry resumes),
`set_commands(manifest)` updates the device_auth manifest (reconnecting if a
connection already announced an older one), and `send_binary` /
`send_control` write from any thread, returning False when not connected.
"""

import bisect
import collections
import logging
import random
import select
import socket
import threading

from plexus_core import __version__, limits
from plexus_core import delivery as D
from plexus_core import session as S
from plexus_core.clock import Monotonic
from plexus_core.limits import FRAME_ENVELOPE_BYTES, WS_FRAME_TARGET
from plexus.config import RetryConfig, say
from plexus.store import split_row
from plexus.ws_transport import CLOSE, LOST, WsConnection

log = logging.getLogger("plexus")

# Rows handed over by the committer are kept for sending up to this many
# bytes and rows; beyond that (the gateway is slower, or away) the store is
# read instead, where small unsent rows are merged into larger frames.
FRESH_BYTES = 4 * WS_FRAME_TARGET
FRESH_ROWS = 64


class _End(Exception):
    """This connection is over (reason in args)."""


class Sender:
    def __init__(self, settings, store, alerts, clock, transport="ws", timeout=10.0,
                 retry=None, batch_points=lambda: limits.MAX_POINTS_PER_BATCH):
        self.settings = settings
        self.store = store
        self.alerts = alerts
        self.clock = clock
        self.use_ws = transport == "ws"
        self.timeout = timeout
        self.retry = retry or RetryConfig()
        self.batch_points = batch_points
        # Four full batches in flight: the gateway stores one while the next arrives.
        self.session = S.DeviceSession(settings.api_key, settings.source_id, __version__,
                                       clock=clock,
                                       window_points=4 * limits.MAX_POINTS_PER_BATCH)
        # SQLite rows split in place: a refused batch is halved to isolate its bad reading.
        self.delivery = D.Delivery(self.session, clock, random.random, can_split=True,
                                   http_retry_ms=lambda a: int(1000 * self.retry.get_delay(a)))
        self.heartbeat_ms = limits.HEARTBEAT_MS
        self.on_command = None
        self.on_authenticated = None
        self.connections = 0          # successful authentications so far
        self.offline = False          # the last attempt to deliver failed
        self.last_retry_ms = None     # delay chosen when the last connection ended
        self._mono = Monotonic()
        self._conn = None
        self._lock = threading.Lock()
        self._delivered = threading.Condition(threading.Lock())
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = False
        self._cursor = -1             # newest key written on this connection
        self._redo = []               # keys to send again before new ones (sorted)
        self._written_max = store.first_new_key - 1  # keys above were never sent
        # Rows just committed, oldest first, and whether they are the next to
        # send: True only after the store held nothing unsent on this connection.
        self._fresh_lock = threading.Lock()
        self._fresh = collections.deque()
        self._fresh_bytes = 0
        self._live = False
        self._merged_through = None   # the newest key merged into the row just taken
        self._manifest_sent = None
        self._redeclare = False
        self._said_connected = False
        self._kicked = False
        self.thread = threading.Thread(target=self._run, name="plexus-send", daemon=True)

    def start(self):
        self.thread.start()

    # -- any thread ---------------------------------------------------------------

    def committed(self, rows):
        """The committer wrote `rows` (oldest first): keep them for sending."""
        with self._fresh_lock:
            if self._live:
                size = sum(len(r[3]) for r in rows)
                if (rows and self._fresh_bytes + size <= FRESH_BYTES
                        and len(self._fresh) + len(rows) <= FRESH_ROWS):
                    self._fresh.extend(rows)
                    self._fresh_bytes += size
                else:  # too much, or some were evicted: the store has them
                    self._drop_fresh()
        self.wake()

    def _drop_fresh(self):
        """(under _fresh_lock) the next rows come from the store again."""
        self._live = False
        self._fresh.clear()
        self._fresh_bytes = 0

    def wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # buffer full: a wakeup is already pending

    def kick(self):
        """Try to deliver now (flush_buffer): skip pending retry delays once."""
        self._kicked = True  # the sender thread tells the Delivery (it owns the clock)
        self.offline = False
        self.wake()

    def wait_delivered(self, timeout, pending=lambda: 0):
        """Wait until the store is empty (True: the gateway confirmed all of it),
        or it is offline or time is up (False)."""
        import time
        deadline = time.monotonic() + timeout
        with self._delivered:
            while pending() > 0 or self.store.points > 0:  # (this order: see Intake._commit)
                left = deadline - time.monotonic()
                if left <= 0 or (self.offline and pending() == 0) or not self.thread.is_alive():
                    return False
                self._delivered.wait(min(left, 0.2))
        return True

    @property
    def authenticated(self):
        return self.session.state == S.READY

    def send_binary(self, data):
        """Write a binary frame (video); False when not connected."""
        return self._write(data, True)

    def send_control(self, text):
        """Write a text frame (command statuses); False when not connected."""
        return self._write(text, False)

    def _write(self, payload, binary):
        with self._lock:
            conn = self._conn if self.session.state == S.READY else None
        if conn is None:
            return False
        try:
            if binary:
                conn.send_binary(payload)
            else:
                conn.send_text(payload)
            return True
        except LOST:
            return False

    def set_commands(self, manifest):
        """Commands to declare in device_auth; a connection that announced
        something else reconnects at once so the gateway sees the new list."""
        with self._lock:
            self.session.commands = manifest or None
            if self._conn is not None and self._manifest_sent != self.session.commands:
                self._redeclare = True
        self.wake()

    def stop(self, timeout):
        self._stop = True
        self.wake()
        self.thread.join(timeout)
        if self.thread.is_alive():
            with self._lock:
                conn = self._conn
            if conn is not None:
                conn.abort()  # unblock a read or write stuck on a dead link
            self.thread.join(1.0)
        return not self.thread.is_alive()

    # -- the sender thread -----------------------------------------------------------

    def _now(self):
        now = self._mono.ms()
        if self._kicked:
            self._kicked = False
            self.delivery.kick(now)
        return now

    def _run(self):
        while not self._stop:
            try:
                if self.use_ws and self.delivery.connect_due(self._now()):
                    conn = self._connect()
                    if conn is not None:
                        self._serve(conn)
                    continue
                self._offline_step()
            except Exception as e:  # never let the sender die: data waits on disk
                log.warning("sender error: %s", self.alerts.redact(e))
                self._sleep(1000)
        self._wake_r.close()
        self._wake_w.close()

    def _sleep(self, ms):
        try:
            select.select([self._wake_r], [], [], max(0, ms) / 1000.0)
            self._drain_wake()
        except (OSError, ValueError):
            pass

    def _drain_wake(self):
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _connect(self):
        try:
            conn = WsConnection(self.settings.ws_url, self.timeout)
        except LOST as e:
            log.debug("connect failed: %s", self.alerts.redact(e))
            self.offline = True
            ended = self.last_retry_ms  # (a failed connect is not a connection that ended)
            self._act(self.delivery.lost(self._now()))
            self.last_retry_ms = ended
            return None
        with self._lock:
            self._conn = conn
            self._redeclare = False
            text = self.session.start(self._now())
            self._manifest_sent = self.session.commands
        try:
            conn.send_text(text)
        except LOST:
            self._end(conn, self.delivery.lost(self._now()))
            return None
        return conn

    def _serve(self, conn):
        d = self.delivery
        ended = None  # the Delivery's actions for how this connection ended
        try:
            while not self._stop and ended is None:
                now = self._now()
                if self.session.auth_overdue(now) or self.session.ack_overdue(now):
                    log.debug("connection ended: the gateway did not answer in time")
                    ended = d.lost(now)
                    break
                if self._redeclare:  # the gateway must hear the new command list
                    ended = d.lost(now, 0, down=False)
                    break
                wait = 0.5
                if self.session.state == S.READY:
                    wait = self._pump(conn, now)
                    hb = self.session.heartbeat(now, interval_ms=self.heartbeat_ms)
                    if hb is not None:
                        conn.send_text(hb)
                frame_ready, woke = conn.wait(wait, self._wake_r)
                if woke:
                    self._drain_wake()
                if frame_ready:
                    got = conn.recv()
                    if got is None:
                        continue
                    kind, value = got
                    if kind == CLOSE:
                        ended = d.closed(value, self._now())
                        break
                    if self._act(d.receive(value, self._now()), True):
                        ended = []  # (carried out already: the connection is over)
            if ended is None:  # stopping
                conn.close(1000)
                ended = d.lost(self._now(), down=False)
        except LOST as e:
            log.debug("connection lost: %s", self.alerts.redact(e))
            ended = d.lost(self._now())
        finally:
            if ended is None:
                ended = d.lost(self._now())
            self._end(conn, ended)

    def _end(self, conn, acts):
        with self._lock:
            self._conn = None
        conn.abort()
        self._act(acts)
        self._redo = []
        self._cursor = -1
        with self._fresh_lock:
            self._drop_fresh()  # the next connection starts with the oldest stored row

    # -- the Delivery's actions ------------------------------------------------------------

    def _act(self, acts, on_socket=False):
        """Carry out a Delivery's actions; True when they end the connection.
        on_socket: they answer the WebSocket (a batch to resend goes in the
        redo list); over HTTP the oldest row is always the next one anyway."""
        end = False
        for a in acts:
            k = a[0]
            if k == D.DELETE:
                self._delete(a[1])
            elif k == D.RESEND:
                if on_socket:
                    for key in a[1]:
                        bisect.insort(self._redo, key)
            elif k == D.SPLIT:
                keys = self._isolate(a[1], a[2])
                if on_socket:
                    for key in keys:
                        bisect.insort(self._redo, key)
            elif k == D.DROP:
                row = self.store.get(a[1])
                if row is not None:
                    self.alerts.rejected(row[3], a[2])
                self._delete([a[1]])
            elif k == D.RECONNECT:
                self.last_retry_ms = a[1]
                end = True
            elif k == D.READY:
                self._authenticated()
            elif k == D.COMMAND:
                handler = self.on_command
                if handler is not None:
                    try:
                        handler(a[1])
                    except Exception as e:
                        log.warning("command handler failed: %s", self.alerts.redact(e))
            elif k == D.REPORT:
                self._report(a[1], a[2])
        return end

    def _report(self, kind, detail):
        url = self.settings.ws_url if self.use_ws else self.settings.gateway_url
        if kind == D.LINK_UP:
            self.offline = False
            if not self._said_connected:
                self._said_connected = True
                say("connected to %s as %s" % (url, self.settings.source_id))
            elif detail:
                say("the link to %s is back; sending what was kept" % url)
        elif kind == D.LINK_DOWN:
            say("lost the link to %s; readings are kept and sent when it is back" % url)
        elif kind == D.KEY_REFUSED:
            self.offline = True
            self.alerts.auth_failed(detail)
        elif kind == D.NO_PLAN:
            self.alerts.say_once("plan", "The gateway does not allow streaming on this plan; "
                                 "sending over HTTP instead.")
        elif kind == D.HELD:
            self.alerts.rate_limited(detail, resent=True)
        elif kind == D.LIMITED:
            self.alerts.rate_limited(detail, resent=False)
        elif kind == D.ANSWERED:
            self.alerts.problem("http-answer", "The gateway answered %s to /ingest; readings "
                                "are kept and retried." % detail)
        else:
            log.debug("gateway error %s", detail)

    def _authenticated(self):
        self.connections += 1
        self.alerts.authenticated()
        hook = self.on_authenticated
        if hook is not None:
            try:
                hook()
            except Exception as e:
                log.warning("on_authenticated hook failed: %s", self.alerts.redact(e))

    def _isolate(self, key, detail):
        """Split a refused batch in place; returns the keys to send again."""
        row = self.store.get(key)
        if row is None:
            return []
        if row[2] == 1:
            self.alerts.rejected(row[3], detail)  # before the delete wakes flush waiters
            self._delete([key])
            return []
        a, b = split_row(row)
        if not self.store.replace([key], [a, b]):
            return []
        self._written_max = max(self._written_max, b[0])
        self._cursor = max(self._cursor, b[0]) if self._cursor >= key else self._cursor
        return [a[0], b[0]]

    def _delete(self, keys):
        if keys:
            self.store.delete(keys)
            with self._delivered:
                self._delivered.notify_all()

    # -- sending ---------------------------------------------------------------------------

    def _frame_budget(self):
        return min(self.session.max_frame_bytes, WS_FRAME_TARGET)

    def _pump(self, conn, now):
        """Send what the Delivery allows now; returns how long to wait (s)."""
        d = self.delivery
        while not self._stop:
            path = d.path(now)
            if path is None:
                return min(0.5, self._wait_ms(now) / 1000.0) if self._pending() else 0.5
            if path == D.HTTP:  # a gateway without acks: telemetry goes where it is confirmed
                row = self._next_after(-1)
                if row is None:
                    return 0.5
                self._post(row)
                return 0
            row = self._next_row()
            if row is None:
                return 0.5
            key, bid, n, data = row
            if len(data) + n + FRAME_ENVELOPE_BYTES > self._frame_budget() and n > 1:
                a, b = split_row(row)  # the gateway announced a smaller frame limit
                with self._fresh_lock:
                    self._drop_fresh()
                self.store.replace([key], [a, b])
                continue
            if not self.session.can_send(n):
                return 0.5  # the window is full: an ack wakes us
            text = d.frame([data], bid, key, n, now)
            self._written(key, self._merged_through)
            try:
                conn.send_text(text)
            except LOST:
                self.session.unsend(key)
                raise
            now = self._now()
        return 0.5

    def _pending(self):
        return self.store.points > 0

    def _wait_ms(self, now):
        """How long to sleep before the Delivery's path() may open (at most 1 s)."""
        d = self.delivery
        soonest = min((at for at in (d.hold_until, d.http_at, d.last_sent + D.PACE_MS) if at > now),
                      default=now + 1000)
        return min(soonest - now, 1000)

    def _written(self, key, through=None):
        """`key` was written (`through`: the newest key merged into it)."""
        if self._redo and self._redo[0] == key:
            self._redo.pop(0)
        else:
            self._cursor = max(self._cursor, key if through is None else through)
        self._written_max = max(self._written_max, key if through is None else through)

    def _next_row(self):
        self._merged_through = None
        while self._redo:
            row = self.store.get(self._redo[0])
            if row is not None:
                return row
            self._redo.pop(0)
        with self._fresh_lock:
            if self._live:
                f = self._fresh
                while f and (f[0][0] <= self._cursor or f[0][0] <= self.store.evicted_through):
                    self._fresh_bytes -= len(f.popleft()[3])  # sent, or evicted meanwhile
                return f[0] if f else None
            # (Under the lock: a row committed meanwhile is either found
            # here or handed over after this, never neither.)
            if not self.store.heads(self._cursor, 1):
                self._live = True  # all sent: the next rows are the ones handed over
                return None
        return self._next_after(self._cursor)

    def _next_after(self, after):
        """The oldest row after `after`; never-sent small rows are merged into
        one, so a backlog drains in the largest frames the gateway allows."""
        self._merged_through = None
        heads = self.store.heads(after, 64)
        if not heads:
            return None
        take = 1
        if heads[0][0] > self._written_max:
            budget = self._frame_budget() - FRAME_ENVELOPE_BYTES
            max_points = self.batch_points()
            n, size = heads[0][2], heads[0][3] + heads[0][2]
            for h in heads[1:]:
                if n + h[2] > max_points or size + h[3] + h[2] > budget:
                    break
                take += 1
                n += h[2]
                size += h[3] + h[2]
        rows = self.store.rows(after, take)
        if len(rows) < 2 or rows[0][0] != heads[0][0]:
            return rows[0] if rows else None
        merged = self.store.merged_row(rows)
        if self.store.replace([r[0] for r in rows], [merged]):
            self._merged_through = rows[-1][0]
            return merged
        return None

    # -- HTTP /ingest ------------------------------------------------------------------------

    def _offline_step(self):
        """No WebSocket: post the oldest batch when the Delivery allows."""
        now = self._now()
        d = self.delivery
        row = None
        if self.store.points > 0 and d.path(now) == D.HTTP:
            row = self._next_after(-1)
        if row is None:
            wait = min(1000, self._wait_ms(now)) if self.store.points > 0 else 1000
            if self.use_ws:
                wait = min(wait, d.ws_at - now)
            self._sleep(max(wait, 1))
            return
        self._post(row)

    def _post(self, row):
        from plexus_core import batch, ingest
        from plexus import http_transport as http  # loaded only when HTTP carries telemetry
        key, bid, n, data = row
        d = self.delivery
        body = batch.ingest_body(self.settings.source_id, [data], bid)
        self._written_max = max(self._written_max, key if self._merged_through is None
                                else self._merged_through)
        answer = {}
        t0 = self._now()
        try:
            status, text = http.ingest(self.settings.gateway_url, self.settings.api_key, body,
                                       self.timeout, answer)
        except http.HttpUnavailable as e:
            log.debug("HTTP ingest failed: %s", e)
            acts = d.post_failed(key, self._now())
        else:
            now = self._now()
            acts = ingest.answered(d, key, n, status, text, answer.get("date_ms"), now - t0, now)
        self._act(acts)
        if (any(a[0] == D.RESEND for a in acts)
                and not any(a[0] == D.REPORT and a[1] == D.HELD for a in acts)):
            self.offline = True  # not a limit: the gateway cannot be used right now
            with self._delivered:
                self._delivered.notify_all()  # flush waiters look at `offline` again
