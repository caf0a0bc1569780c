"""Token buckets for per-connection message rates (PROTOCOL.md §4.12)."""

import time


class TokenBucket:
    __slots__ = ("burst", "rate", "tokens", "stamp")

    def __init__(self, burst, rate):
        self.burst = float(burst)
        self.rate = float(rate)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self, n=1):
        """True if `n` messages may pass now; False means over the limit."""
        if self.rate <= 0:
            return True  # limits switched off
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


class Limits:
    """The gateway's rate settings (PROTOCOL.md §4.12, §2.2); rate 0 switches a limit off.

    Per connection: telemetry messages (burst 2000, 500/s) and control
    messages (burst 60, 20/s). Per source, WebSocket and HTTP together:
    telemetry messages (burst 500, 2000/s); over it a WebSocket frame gets
    SOURCE_LIMIT and an /ingest request reports its points as `dropped`.
    With `source_min_interval` (seconds) the per-source ceiling is the hosted
    gateway's instead: a message sooner than that after the source's last
    accepted one is over it (the profile decides that it is dropped silently)."""

    def __init__(self, telemetry_burst=2000, telemetry_rate=500, control_burst=60, control_rate=20,
                 source_burst=500, source_rate=2000, source_min_interval=None):
        self.telemetry = (telemetry_burst, telemetry_rate)
        self.control = (control_burst, control_rate)
        self.source = (source_burst, source_rate)
        self.source_min_interval = source_min_interval
        self._sources = {}

    @classmethod
    def off(cls):
        return cls(0, 0, 0, 0, 0, 0)

    def telemetry_bucket(self):
        return TokenBucket(*self.telemetry)

    def control_bucket(self):
        return TokenBucket(*self.control)

    def source_allows(self, source_id):
        """Take one message from the source's ceiling; False when it is over."""
        if self.source_min_interval is not None:
            now = time.monotonic()
            last = self._sources.get(source_id)
            if last is not None and now - last < self.source_min_interval:
                return False
            self._sources[source_id] = now
            return True
        b = self._sources.get(source_id)
        if b is None:
            b = self._sources[source_id] = TokenBucket(*self.source)
        return b.take()

    def forget(self, source_id):
        """The source's last device socket closed: the hosted ceiling starts afresh."""
        if self.source_min_interval is not None:
            self._sources.pop(source_id, None)
