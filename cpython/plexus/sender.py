"""The background sender: store -> gateway, oldest first, until acknowledged.

One daemon thread owns the device WebSocket and the plexus_core
DeviceSession (frames, seq/ack window, clock samples, heartbeats). Whenever
a connection is up it sends stored batches in key order as the ack window
allows and deletes each one only when the gateway acknowledges it; nothing
waits for a new send(), so a backlog drains with no new reading. When the
socket is down it posts the
oldest batch over HTTP, so order holds across both paths. When the
connection ends, every unacknowledged batch is simply still in the store and
goes out again first, with the same batch id: a crash loses nothing
and a resend is stored once.

Failures: reconnects follow the core backoff (after a 1001 goodbye: 0.1-0.5 s);
a rejected key backs off for minutes, not seconds (no hammering the gateway); a batch refused for
a rate limit is kept and resent after a pause; a batch refused as invalid is
split in halves until the bad reading is alone, then that reading is dropped
and reported, so one bad reading never holds up the rest.

Seams for commands and video: `on_command(frame)` gets every command frame,
`on_authenticated()` runs after each auth (before telemetry resumes),
`set_commands(manifest)` updates the device_auth manifest (reconnecting if a
connection already announced an older one), and `send_binary` /
`send_control` write from any thread, returning False when not connected.
"""

import bisect
import logging
import random
import select
import socket
import threading

from plexus_core import __version__, batch, ingest, limits
from plexus_core import session as S
from plexus_core.backoff import Backoff, goodbye_delay_ms
from plexus_core.clock import Monotonic
from plexus_core.limits import FRAME_ENVELOPE_BYTES, WS_FRAME_TARGET
from plexus import http_transport as http
from plexus.config import RetryConfig, say
from plexus.store import split_row
from plexus.ws_transport import CLOSE, LOST, WsConnection

log = logging.getLogger("plexus")

AUTH_RETRY_MS = 60000        # first retry after the key was rejected ...
AUTH_RETRY_MAX_MS = 1800000  # ... doubling up to 30 minutes
LIMIT_PAUSE_MS = 1000        # after a batch was refused for a rate limit
NO_PLAN_RETRY_MS = 600000    # streaming not in the plan: HTTP only, check again later


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
        self.heartbeat_ms = limits.HEARTBEAT_MS
        self.on_command = None
        self.on_authenticated = None
        self.connections = 0          # successful authentications so far
        self.offline = False          # the last attempt to deliver failed
        self.last_retry_ms = None     # delay chosen when the last connection ended
        self._mono = Monotonic()
        self._backoff = Backoff(random.random)
        self._conn = None
        self._lock = threading.Lock()
        self._delivered = threading.Condition(threading.Lock())
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = False
        self._cursor = -1             # newest key written on this connection
        self._flight = {}             # batch id -> key, written on this connection
        self._redo = []               # keys to send again before new ones (sorted)
        self._redo_at = 0
        self._written_max = store.first_new_key - 1  # keys above were never sent
        self._next_ws = 0
        self._next_http = 0
        self._http_attempt = 0
        self._auth_failures = 0
        self._manifest_sent = None
        self._redeclare = False
        self._said_connected = False
        self.thread = threading.Thread(target=self._run, name="plexus-send", daemon=True)

    def start(self):
        self.thread.start()

    # -- any thread ---------------------------------------------------------------

    def wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # buffer full: a wakeup is already pending

    def kick(self):
        """Try to deliver now (flush_buffer): skip pending retry delays once."""
        self._next_http = 0
        if self._conn is None:
            self._next_ws = 0
        self.offline = False
        self.wake()

    def wait_delivered(self, timeout, pending=lambda: 0):
        """Wait until the store is empty (True), or it is offline or time is up (False)."""
        import time
        deadline = time.monotonic() + timeout
        with self._delivered:
            while self.store.points > 0 or pending() > 0:
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
        return self._mono.ms()

    def _run(self):
        while not self._stop:
            try:
                if self.use_ws and self._now() >= self._next_ws:
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
            self._next_ws = self._now() + self._backoff.next_ms()
            return None
        with self._lock:
            self._conn = conn
            self._redeclare = False
            text = self.session.start(self._now())
            self._manifest_sent = self.session.commands
        try:
            conn.send_text(text)
        except LOST:
            self._end(conn, self._backoff.next_ms())
            return None
        return conn

    def _serve(self, conn):
        retry_ms = None
        try:
            while not self._stop:
                now = self._now()
                if self.session.auth_overdue(now):
                    raise _End("no answer to device_auth")
                if self.session.ack_overdue(now):
                    raise _End("acknowledgements overdue")
                if self._redeclare:
                    retry_ms = 0
                    raise _End("command manifest changed")
                if self.session.state == S.READY:
                    self._pump(conn, now)
                    hb = self.session.heartbeat(now, interval_ms=self.heartbeat_ms)
                    if hb is not None:
                        conn.send_text(hb)
                frame_ready, woke = conn.wait(self._wait_s(now), self._wake_r)
                if woke:
                    self._drain_wake()
                if frame_ready:
                    got = conn.recv()
                    if got is None:
                        continue
                    kind, value = got
                    if kind == CLOSE:
                        retry_ms = self._closed_by_gateway(value)
                        return
                    for ev in self.session.receive(value, self._now()):
                        self._event(ev)
            conn.close(1000)
        except _End as e:
            log.debug("connection ended: %s", e)
            if e.args and isinstance(e.args[-1], int):
                retry_ms = e.args[-1]
        except LOST as e:
            log.debug("connection lost: %s", self.alerts.redact(e))
        finally:
            if retry_ms is None:
                retry_ms = self._backoff.next_ms()
            self._end(conn, retry_ms)

    def _end(self, conn, retry_ms):
        with self._lock:
            self._conn = None
            self.session.lost()
        conn.abort()
        self._flight.clear()
        self._redo = []
        self._cursor = -1
        self.last_retry_ms = retry_ms
        self._next_ws = self._now() + retry_ms
        if not self._auth_failures:
            self._next_http = 0  # fall back to HTTP at once (not with a rejected key)
        self.offline = False

    def _closed_by_gateway(self, code):
        if code == 1001:  # goodbye: the gateway is redeploying
            log.debug("gateway said goodbye")
            return goodbye_delay_ms(random.random())
        if code == 1008 and self.session.state == S.AUTHENTICATING:
            return self._auth_rejected("connection closed during auth (1008)", None)
        return self._backoff.next_ms()

    def _wait_s(self, now):
        t = 0.5
        if self._redo and self.session.state == S.READY:
            t = min(t, max(0, self._redo_at - now) / 1000.0)
        return t

    # -- events -----------------------------------------------------------------------

    def _event(self, ev):
        kind = ev[0]
        if kind == S.ACKED:
            self._delete([self._flight.pop(b) for b in ev[1] if b in self._flight])
        elif kind == S.AUTHENTICATED:
            self._authenticated()
        elif kind == S.AUTH_FAILED:
            raise _End("auth failed", self._auth_rejected(ev[1], ev[2]))
        elif kind == S.REJECTED:
            key = self._flight.pop(ev[1], None)
            if key is not None:
                self._refused(key, ev[2], ev[3])
        elif kind == S.ERROR:
            if ev[1] in S.LIMIT_CODES:
                self.alerts.rate_limited(ev[1], resent=False)
            elif ev[1]:
                log.debug("gateway error %s: %s", ev[1], ev[2])
        elif kind == S.COMMAND:
            handler = self.on_command
            if handler is not None:
                try:
                    handler(ev[1])
                except Exception as e:
                    log.warning("command handler failed: %s", self.alerts.redact(e))

    def _authenticated(self):
        self._backoff.reset()
        self._auth_failures = 0
        self.connections += 1
        self.alerts.authenticated()
        if not self._said_connected:
            self._said_connected = True
            say("connected to %s as %s" % (self.settings.ws_url, self.settings.source_id))
        hook = self.on_authenticated
        if hook is not None:
            try:
                hook()
            except Exception as e:
                log.warning("on_authenticated hook failed: %s", self.alerts.redact(e))

    def _auth_rejected(self, reason, code):
        if code == "streaming_requires_plan":
            self.alerts.say_once("plan", "The gateway does not allow streaming on this plan; "
                                 "sending over HTTP instead.")
            return NO_PLAN_RETRY_MS
        self.alerts.auth_failed(reason)
        self._auth_failures += 1
        self._next_http = self._now() + self._auth_retry_ms()
        return self._auth_retry_ms()

    def _auth_retry_ms(self):
        n = min(self._auth_failures, 10)
        d = min(AUTH_RETRY_MS << max(0, n - 1), AUTH_RETRY_MAX_MS)
        return d + int(d * 0.25 * random.random())

    def _refused(self, key, code, detail):
        """The gateway did not store a batch: pause and resend, or isolate the bad reading."""
        if code in S.LIMIT_CODES:
            self.alerts.rate_limited(code, resent=True)
            bisect.insort(self._redo, key)
            self._redo_at = self._now() + LIMIT_PAUSE_MS
            return
        for k in self._isolate(key, detail):
            bisect.insort(self._redo, k)
        self._redo_at = self._now()

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

    # -- sending over the WebSocket --------------------------------------------------------

    def _frame_budget(self):
        return min(self.session.max_frame_bytes, WS_FRAME_TARGET)

    def _pump(self, conn, now):
        while not self._stop:
            row = self._next_row(now)
            if row is None:
                return
            key, bid, n, data = row
            if len(data) + n + FRAME_ENVELOPE_BYTES > self._frame_budget() and n > 1:
                a, b = split_row(row)  # the gateway announced a smaller frame limit
                self.store.replace([key], [a, b])
                continue
            if not self.session.can_send(n):
                return
            text = self.session.telemetry([data], bid, now, n)
            self._written(key)
            try:
                conn.send_text(text)
            except LOST:
                self.session.unsend(bid)
                raise
            if self.session.acks:
                self._flight[bid] = key
            else:
                self._delete([key])  # a gateway without acks: written is all we get

    def _written(self, key):
        if self._redo and self._redo[0] == key:
            self._redo.pop(0)
        else:
            self._cursor = max(self._cursor, key)
        self._written_max = max(self._written_max, key)

    def _next_row(self, now):
        if self._redo:
            if now < self._redo_at:
                return None
            while self._redo:
                row = self.store.get(self._redo[0])
                if row is not None:
                    return row
                self._redo.pop(0)
        return self._next_after(self._cursor)

    def _next_after(self, after):
        """The oldest row after `after`; never-sent small rows are merged into one."""
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
            return merged
        return None

    # -- without a connection: HTTP ------------------------------------------------------------

    def _offline_step(self):
        now = self._now()
        row = None
        if now >= self._next_http and self.store.points > 0:
            row = self._next_after(-1)
        if row is None:
            wait = 1000
            if self.use_ws:
                wait = min(wait, self._next_ws - now)
            if self.store.points > 0:
                wait = min(wait, self._next_http - now)
            self._sleep(max(wait, 1))
            return
        self._post(row)

    def _post(self, row):
        key, bid, n, data = row
        body = batch.ingest_body(self.settings.source_id, [data], bid)
        self._written_max = max(self._written_max, key)
        answer = {}
        t0 = self._now()
        try:
            status, text = http.ingest(self.settings.gateway_url, self.settings.api_key, body,
                                       self.timeout, answer)
        except http.HttpUnavailable as e:
            log.debug("HTTP ingest failed: %s", e)
            return self._http_retry()
        self._date_sync(answer.get("date_ms"), self._now() - t0)
        outcome = ingest.classify(status)
        if outcome == ingest.OK:
            self._http_attempt = 0
            self.offline = False
            self._delete([key])
            dropped = ingest.dropped_count(text)
            if dropped:
                self.alerts.gateway_dropped(dropped)
        elif outcome == ingest.AUTH:
            self._auth_failures += 1
            self.alerts.auth_failed("HTTP %d: %s" % (status, ingest.error_text(text)))
            self.offline = True
            self._next_http = self._now() + self._auth_retry_ms()
        elif outcome == ingest.REJECTED:
            self._isolate(key, "HTTP %d: %s" % (status, ingest.error_text(text)))
        elif outcome == ingest.RETRY:
            self._http_retry()
        else:
            self.alerts.problem("http-%d" % status, "The gateway answered HTTP %d to /ingest (%s); "
                                "readings are kept and retried." % (status, ingest.error_text(text)))
            self._http_retry()

    def _date_sync(self, date_ms, rtt_ms):
        """Without a WebSocket, the HTTP Date header (whole seconds) is the only
        server clock: used until a socket sync, and only to fix an error
        of over a second, so its coarseness never moves timestamps back and forth."""
        if date_ms is None or self.connections:
            return
        offset = date_ms + 500 + rtt_ms // 2 - self.clock.local_ms()
        if abs(offset - self.clock.offset_ms) > 1000 + rtt_ms:
            self.clock.offset_ms = offset

    def _http_retry(self):
        self.offline = True
        self._next_http = self._now() + int(1000 * self.retry.get_delay(self._http_attempt))
        self._http_attempt += 1
        with self._delivered:
            self._delivered.notify_all()
