"""The bounded queue between device sockets (and /ingest) and the store writer.

Every telemetry batch handed to the store is counted here, in points, until
its commit (or failure) completes. Past the limit the gateway degrades
honestly instead of buffering without end:

- device sockets stop reading (`room()` is awaited before the next frame), so
  TCP pushes back on the devices, which keep their readings in their own
  buffers and are acknowledged later;
- `/ingest` answers 503 with Retry-After (`full`), which every client retries;
- once a minute while the gateway is behind, one warning line says how far.

A batch is admitted while the queue is below its limit, so the queue can
exceed it by at most one batch per connection: memory stays bounded whatever
the offered load. Acknowledgements still wait for the commit.
"""

import asyncio
import logging
import time

log = logging.getLogger("plexus.gateway")

DEFAULT_MAX_POINTS = 50000   # a few seconds of the writer's throughput on a small machine
WARN_EVERY_S = 60.0
BEHIND_WAIT_S = 2.0          # the oldest queued batch waiting this long also counts as behind
CAUGHT_UP_S = 10.0           # not behind for this long: caught up


class Intake:
    def __init__(self, max_points=None):
        self.max_points = DEFAULT_MAX_POINTS if max_points is None else max(1, int(max_points))
        self.points = 0                          # queued, not yet committed
        self._waiting = {}                       # future -> (monotonic time queued, points), oldest first
        self._room = asyncio.Event()
        self._room.set()
        self._was_full = False                   # since the last check(): for the warning line
        self._behind_at = None                   # monotonic time last seen behind, None = caught up
        self._warned = None                      # monotonic time of the last warning
        # counters for /metrics
        self.frames_stored = 0
        self.points_stored = 0
        self.store_failures = 0
        self.full_events = 0                     # times the queue reached its limit
        self.paused_reads = 0                    # device sockets waiting for room right now
        self.refused_http = 0                    # /ingest requests answered 503

    @property
    def full(self):
        return self.points >= self.max_points

    def depth(self):
        return len(self._waiting)

    def oldest_wait_s(self):
        """How long the oldest queued batch has waited for its commit (0 when empty)."""
        for t, _ in self._waiting.values():
            return time.monotonic() - t
        return 0.0

    def track(self, fut, n_points):
        """Count a store write (an awaitable future) until it completes; returns it."""
        n = max(1, n_points)
        self._waiting[fut] = (time.monotonic(), n)
        self.points += n
        if self.points >= self.max_points and self._room.is_set():
            self._room.clear()
            self._was_full = True
            self.full_events += 1
        fut.add_done_callback(self._done)
        return fut

    def _done(self, fut):
        n = self._waiting.pop(fut)[1]
        self.points -= n
        if fut.cancelled():  # its waiter went away (shutdown); the write itself went on
            pass
        elif fut.exception() is not None:
            self.store_failures += 1
        elif fut.result() is not None:
            self.frames_stored += 1
            self.points_stored += fut.result()
        if not self.full:
            self._room.set()

    async def room(self):
        """Wait until the queue is below its limit (returns at once when it is)."""
        if self._room.is_set():
            return
        self.paused_reads += 1
        try:
            await self._room.wait()
        finally:
            self.paused_reads -= 1

    def retry_after_s(self):
        """Seconds a refused client should wait: about the time the queue needs to drain."""
        return int(min(30, max(1, round(self.oldest_wait_s()))))

    def refuse_http(self):
        self.refused_http += 1
        self._was_full = True

    # -- the warning line ------------------------------------------------------

    def check(self):
        """Called about once a second: one warning a minute while behind, and
        one line once it has been caught up for CAUGHT_UP_S."""
        wait = self.oldest_wait_s()
        now = time.monotonic()
        if self._was_full or self.full or wait >= BEHIND_WAIT_S:
            self._behind_at = now
        self._was_full = False
        if self._behind_at is None:
            return
        if now - self._behind_at >= CAUGHT_UP_S:
            self._behind_at = self._warned = None
            log.info("gateway caught up: %d points queued for the store", self.points)
        elif self._warned is None or now - self._warned >= WARN_EVERY_S:
            self._warned = now
            log.warning("gateway is behind: %d points in %d batches queued for the store (limit %d), "
                        "oldest waiting %.1f s; device sockets paused: %d, /ingest answered 503: %d so far",
                        self.points, self.depth(), self.max_points, wait, self.paused_reads, self.refused_http)

    async def watch(self, every_s=1.0):
        while True:
            await asyncio.sleep(every_s)
            self.check()
