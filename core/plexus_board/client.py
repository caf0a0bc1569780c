"""`Plexus` for boards (MicroPython): the same calls as on CPython.

    px = Plexus("plx_...", "pump-07", "http://192.168.1.10:8080")
    px.send("temp", 21.5)       # validated, staged in RAM, sealed to flash
    while True:
        px.poll()               # bounded network work, then returns

send() never touches the network. Readings go to the flash log (plexus_board.
flashlog) in whole segments; poll() delivers segments oldest first over the
device WebSocket (wslink) or POST /ingest (httplink) and deletes a segment
only once the gateway has stored it. Nothing runs in the background: call
poll() from the main loop, or run `asyncio.create_task(px.poll_task())`.

The flash log defaults to /data/plexus, not /plexus: a directory named
"plexus" in / would shadow the `plexus` package on the next import.
"""

import gc
import json
import time

from plexus_core import forget
from plexus_core.clock import Clock, Monotonic, ms_of_seconds
from plexus_core.errors import PlexusError
from plexus_board.flashlog import FlashLog

CLOSE_WAIT_MS = 5000
_QUICK_INT = 0x3FFFFFFF  # ints a board holds without a long int: surely finite


def _sleep_ms(ms):
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


class Plexus:
    def __init__(self, api_key, source_id, gateway_url, ws_url=None, transport="ws",
                 store="/data/plexus", timeout=10.0, segment_bytes=4096, max_segments=256,
                 linger_ms=1000, ca=None, tls_verify=True, **cpython_only):
        from plexus_board import settings
        try:
            cfg = settings.check(api_key, source_id, gateway_url, ws_url, transport,
                                 timeout, linger_ms, ca, tls_verify, cpython_only)
        finally:
            settings = None
            forget("plexus_board.settings")  # runs once: free its code
            forget("plexus_core.source_id")
        self.source_id = cfg.source_id
        self.gateway_url = cfg.gateway_url
        self.ws_url = cfg.ws_url
        self.transport = transport
        self.timeout_ms = cfg.timeout_ms
        self.linger_ms = linger_ms
        self.dropped_points = 0         # stored by the gateway then discarded for a limit
        self.rejected_points = 0        # refused by the gateway as invalid
        self.rate_limited_frames = 0
        self.last_error = None          # the latest network problem, as text
        self._raise = None              # an error poll() reports once
        self._commands = None           # BoardCommands, once a command is declared
        self._closed = False
        self._clock = Clock()
        self._mono = Monotonic()
        gc.collect()  # the setup code just dropped: reuse its space
        self._log = FlashLog(store, segment_bytes, max_segments)
        self._staged_at = 0
        self._cfg = cfg
        self._link = None               # the link, made by the first poll() (_linked)

    def __repr__(self):
        return "Plexus(source_id=%r, gateway=%r)" % (self.source_id, self.gateway_url)

    # -- sending (never touches the network) ------------------------------------

    def send(self, metric, value, timestamp=None, tags=None, data_class=None):
        """Queue one reading; True once it is accepted (staged, then on flash).

        value: number (metric), or str/bool/dict/list (event). timestamp: epoch
        s or ms, or None for now on the gateway-corrected clock. Bad input
        raises ValueError before anything is queued."""
        t = type(value)
        if (timestamp is None and tags is None and data_class is None and type(metric) is str
                and 0 < len(metric) <= 64
                and (t is float and value - value == 0 or t is int and -_QUICK_INT <= value <= _QUICK_INT)):
            # The bulk of board traffic: a short name (<= 256 UTF-8 bytes), a
            # finite number, stamped now. It meets every rule of
            # points.make_point and encodes as its encode_point does.
            p = {"class": "metric", "metric": metric, "value": value, "timestamp": self._clock.now_ms()}
            self._add(json.dumps(p, separators=(",", ":")))
            return True
        from plexus_core import points as pm  # the full point model, loaded when first needed
        self._add(pm.encode_point(pm.make_point(metric, value, timestamp, tags, data_class,
                                                self._clock.now_ms)))
        return True

    def event(self, name, data, timestamp=None, tags=None):
        """Queue a named event (text, number, bool, dict or list)."""
        return self.send(name, data, timestamp, tags, "event")

    def _add(self, encoded):
        if self._closed:
            raise PlexusError("this Plexus client is closed; create a new one")
        if not self._log.staged:
            self._staged_at = self._mono.ms()
        self._log.add(encoded)

    def persist(self):
        """Write the readings staged in RAM to flash now (poll() also does)."""
        self._log.seal()
        return True

    # -- delivery ---------------------------------------------------------------

    def poll(self):
        """Do a bounded amount of network work and return.

        Raises AuthenticationError when the gateway refused the key and
        PlexusError/RateLimitedError when it refused or dropped readings
        (once each); network outages are not errors: readings wait on flash
        and `last_error` says why."""
        self._poll(0)

    def _poll(self, wait_ms):
        if self._closed:
            return  # closed: no reconnects; what is left goes at the next start
        now = self._mono.ms()
        if self._log.staged and now - self._staged_at >= self.linger_ms:
            self._log.seal()
        self._linked().poll(now, wait_ms)
        e = self._raise
        if e is not None:
            self._raise = None
            raise e

    def _linked(self):
        """The link, made at the first poll(): its code (the session, sockets)
        loads then, once the readings of a start are on flash, not in Plexus().
        It gets its settings and parts; outcomes come back through the public
        last_error, report() and counters."""
        if self._link is None:
            gc.collect()
            if self.transport == "ws":
                from plexus_board.wslink import WsLink as Link
            else:
                from plexus_board.httplink import HttpLink as Link
            self._link = Link(self._cfg, self._log, self._clock, self._mono, self)
            self._link.commands = self._commands
        return self._link

    def report(self, exc):
        """Links hand errors here; poll() raises the first one."""
        if self._raise is None:
            self._raise = exc

    def flush(self, timeout=None):
        """Deliver everything now; True only when the gateway confirmed
        storing all of it (an acknowledgement, or an /ingest 200 whose count
        covers the segment), False if it could not within `timeout` s
        (default: the client timeout)."""
        limit = self.timeout_ms if timeout is None else ms_of_seconds(timeout, "timeout")
        self._log.seal()
        start = self._mono.ms()
        while self._log.points():
            if self._mono.ms() - start >= limit:
                return False
            self._poll(20)
            if self._link is None or not self._link.connected():  # waiting out a reconnect delay
                _sleep_ms(20)
        return True

    flush_buffer = flush  # the CPython name

    def buffer_size(self):
        """Readings accepted and not yet stored by the gateway."""
        return self._log.points()

    def close(self):
        """Seal, try to deliver for a few seconds, and stop; what is left stays
        on flash for the next start."""
        if self._closed:
            return
        try:
            self.flush(min(self.timeout_ms, CLOSE_WAIT_MS) / 1000)
        except PlexusError as e:
            self.last_error = str(e)
        self._closed = True
        self._log.seal()
        if self._link is not None:
            self._link.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getattr__(self, name):
        """The less used attributes (send_batch, run, poll_task, commands,
        counters, the CPython-only video calls): plexus_board.attributes
        says which module holds each, loaded on first use."""
        from plexus_board.attributes import get
        return get(self, name)
