"""Time without floats: integer wall-clock ms, wrap-safe monotonic ms, and
the server offset.

Boards have single-precision floats (a current epoch in a float is off by
~30 s) and ESP32 counts from 2000, so wall time is always derived from
integer nanoseconds and shifted to the 1970 epoch here, once.
"""

import time

# 946684800 s between 1970-01-01 and 2000-01-01.
EPOCH_2000_SHIFT_MS = 946684800000


def epoch_shift_ms(gmtime=time.gmtime):
    """How many ms to add to the port's clock to count from 1970."""
    return EPOCH_2000_SHIFT_MS if gmtime(0)[0] == 2000 else 0


_SHIFT_MS = epoch_shift_ms()


def wall_ms(t=time):
    """Integer ms since 1970 from the local clock, on every port."""
    ns = getattr(t, "time_ns", None)
    if ns is not None:
        return ns() // 1000000 + _SHIFT_MS
    # Old firmware without time_ns: integer seconds, never a float epoch.
    return int(t.time()) * 1000 + _SHIFT_MS


def _default_ticks():
    if hasattr(time, "ticks_ms"):
        return time.ticks_ms, time.ticks_diff
    return (lambda: time.monotonic_ns() // 1000000), (lambda a, b: a - b)


class Monotonic:
    """Monotonic ms that never wraps.

    Board tick counters wrap (2^30 ms = 12.4 days on ESP32/RP2); this widens
    them by summing ticks_diff() deltas, which is exact as long as ms() is
    called at least once per half period (6 days).
    """

    def __init__(self, ticks=None, diff=None):
        if ticks is None:
            ticks, diff = _default_ticks()
        self._ticks = ticks
        self._diff = diff
        self._last = ticks()
        self._ms = 0

    def ms(self):
        now = self._ticks()
        self._ms += self._diff(now, self._last)
        self._last = now
        return self._ms


class Clock:
    """Local wall clock plus the offset learned from the gateway.

    offset = server_time + rtt/2 - local_time_at_receipt. A sample whose
    round trip is much slower than the best seen is skipped (its error is up
    to rtt/2), unless slow samples keep coming, in which case the network
    really got slower and the sample is taken.
    """

    def __init__(self, wall=wall_ms):
        self._wall = wall
        self.offset_ms = 0
        self.synced = False
        self.rtt_ms = None
        self._best_rtt = None
        self._skipped = 0

    def now_ms(self):
        """Server-corrected wall-clock ms: what SDK-generated timestamps use."""
        return self._wall() + self.offset_ms

    def local_ms(self):
        return self._wall()

    def sample(self, server_ms, rtt_ms, local_ms_at_receipt=None):
        """Feed one server time reading; returns True if it was applied."""
        if not isinstance(server_ms, int) or isinstance(server_ms, bool) or server_ms <= 0:
            return False
        if rtt_ms < 0:
            rtt_ms = 0
        best = self._best_rtt
        if best is not None and rtt_ms > 2 * best + 20 and self._skipped < 3:
            self._skipped += 1
            return False
        self._skipped = 0
        self._best_rtt = rtt_ms if best is None or rtt_ms < best else (best + rtt_ms) // 2
        if local_ms_at_receipt is None:
            local_ms_at_receipt = self._wall()
        self.offset_ms = server_ms + rtt_ms // 2 - local_ms_at_receipt
        self.rtt_ms = rtt_ms
        self.synced = True
        return True


def ms_of_seconds(seconds, field):
    """A timeout given in seconds (int or float, > 0) as integer ms;
    ValueError naming the field otherwise."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValueError("%s must be a positive number of seconds, got %r" % (field, seconds))
    return int(seconds * 1000)
