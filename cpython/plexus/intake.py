"""From send() to the store: a short in-memory queue and the thread that commits it.

send() appends the encoded reading to a list under a lock and returns; it
never waits for disk or network. The committer thread wakes when the first
reading arrives, lingers `linger_ms` to gather more (or less, when a full
batch is already waiting), cuts what it took into batches that fit one
WebSocket frame, and commits them to the store in one transaction. So every
reading whose send() returned is on disk within the linger window (plus one
commit); a process kill or power cut can lose at most the readings of that
last window. persist() commits at once, for callers that need a guarantee
now (before a deliberate power-off, say).
"""

import threading
import time

from plexus_core import batch
from plexus_core.errors import PlexusError
from plexus_core.limits import FRAME_ENVELOPE_BYTES, MAX_POINTS_PER_BATCH, WS_FRAME_TARGET

DEFAULT_LINGER_MS = 20


def cut(encoded, max_points=MAX_POINTS_PER_BATCH, max_bytes=WS_FRAME_TARGET):
    """Encoded readings -> [(n, joined)] batches that each fit one frame.

    A chunk that obviously fits is taken whole (C-speed size sum: JSON from
    CPython is ASCII, so len() is bytes); otherwise the core's exact
    splitter decides."""
    out = []
    for i in range(0, len(encoded), max_points):
        chunk = encoded[i:i + max_points]
        if FRAME_ENVELOPE_BYTES + sum(map(len, chunk)) + len(chunk) <= max_bytes:
            parts = [chunk]
        else:
            parts = batch.split(chunk, max_points, max_bytes)
        for p in parts:
            out.append((len(p), ",".join(p)))
    return out


class Intake:
    def __init__(self, store, alerts, linger_ms=DEFAULT_LINGER_MS, on_committed=None):
        """on_committed(rows): called on the committer thread after each
        commit with the rows just written (key, bid, n, data), so they can be
        sent from memory; [] when they cannot be (some were evicted)."""
        self.store = store
        self.alerts = alerts
        self.linger = linger_ms / 1000.0
        self.on_committed = on_committed or (lambda rows: None)
        # put() takes the bare lock (a C call); the condition shares it and is
        # only notified when the committer has something to do.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._done = threading.Condition(threading.Lock())
        self._pending = []
        self.accepted = 0    # readings taken by put()
        self.committed = 0   # of those, how many are in the store (or evicted)
        self._urgent = False
        self._stop = False
        self._dropped_now = 0  # evicted from memory while the store failed
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="plexus-commit", daemon=True)
        self._thread.start()

    def refresh(self):
        """Batch size follows the store's capacity: under a small cap batches
        are small, so eviction never takes a large share at once."""
        self.batch_points = max(1, min(MAX_POINTS_PER_BATCH, self.store.max_points // 4))

    # -- caller's thread --------------------------------------------------------

    def put(self, encoded):
        with self._lock:
            if self._stop:
                raise PlexusError("this Plexus client is closed; create a new one")
            p = self._pending
            p.append(encoded)
            self.accepted += 1
            if len(p) == 1 or len(p) == self.batch_points:
                self._cond.notify()

    def put_many(self, encoded_list):
        with self._cond:
            if self._stop:
                raise PlexusError("this Plexus client is closed; create a new one")
            self._pending.extend(encoded_list)
            self.accepted += len(encoded_list)
            self._cond.notify()

    def waiting(self):
        """Readings accepted but not yet committed, including those being
        committed right now (a flush must not take them for delivered)."""
        done = self.committed  # (read first: both only grow)
        return self.accepted - done

    def persist(self, timeout=None):
        """Commit everything accepted so far; True when it is on disk."""
        with self._cond:
            target = self.accepted
            self._urgent = True
            self._cond.notify()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while self.committed < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                if not self._thread.is_alive():
                    return False
                self._done.wait(0.5 if left is None else min(left, 0.5))
        return True

    def close(self, timeout=10.0):
        self.persist(timeout)
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout)

    # -- committer thread ---------------------------------------------------------

    def _take(self):
        with self._cond:
            while not self._pending and not self._stop and not self._urgent:
                self._cond.wait()
            deadline = time.monotonic() + self.linger
            while (not self._stop and not self._urgent
                   and len(self._pending) < self.batch_points):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            self._urgent = False
            items, self._pending = self._pending, []
            return items

    def _run(self):
        while True:
            items = self._take()
            if items:
                self._commit(items)
            elif self._stop:
                return
            with self._done:
                self._done.notify_all()

    def _commit(self, items):
        failures = 0
        rows = []
        while True:
            try:
                rows, evicted = self.store.append(cut(items, self.batch_points))
                break
            except Exception as e:  # disk full, file removed, locked: keep trying
                failures += 1
                if self.store.closed or (self._stop and failures >= 3):
                    self.alerts.problem("store", "The local buffer could not be written (%s); "
                                        "%d readings were not saved." % (e, len(items)))
                    evicted = 0
                    break
                self.alerts.problem("store", "Cannot write the local buffer (%s); readings "
                                    "are held in memory and written when it works again." % e)
                items = self._bound(items)
                with self._cond:
                    self._cond.wait(0.1 if self._stop else 1.0)
        # Right after the store's counters moved: waiting() reads `committed`
        # first, so in between a reading is counted twice, never missed.
        with self._done:
            self.committed += len(items) + self._dropped_now
            self._dropped_now = 0
        self.alerts.evicted(evicted)
        self.on_committed(rows if not evicted else [])

    def _bound(self, items):
        """While the store cannot be written, memory holds at most its capacity."""
        with self._cond:
            over = len(items) + len(self._pending) - self.store.max_points
            if over <= 0:
                return items
            drop = min(over, len(items))
            self._dropped_now += drop
        self.alerts.evicted(drop)
        return items[drop:]
