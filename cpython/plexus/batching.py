"""`px.batch()`: the plexus-python 0.16 BatchSender API, kept for existing code.

Every send() is already coalesced into batches by the client (see
plexus.intake), so this object only forwards: it works with or without
`with` (no thread to start, so nothing waits on a forgotten `with`), and flush() hands everything
accepted so far to the store and nudges the sender.
"""

MIN_INTERVAL_MS = 2.0


class BatchSender:
    def __init__(self, client, interval_ms=100.0, max_points=5000, max_pending=200000):
        if interval_ms < MIN_INTERVAL_MS:
            raise ValueError("interval_ms must be >= %s" % MIN_INTERVAL_MS)
        if max_points < 1:
            raise ValueError("max_points must be >= 1")
        if max_pending < max_points:
            raise ValueError("max_pending must be >= max_points")
        self._client = client
        self.interval_ms = interval_ms
        self.max_points = max_points
        self.max_pending = max_pending
        self._closed = False

    def _check(self):
        if self._closed:
            raise RuntimeError("this batch sender is closed")

    def send(self, metric, value, timestamp=None, tags=None, data_class=None):
        self._check()
        self._client.send(metric, value, timestamp, tags, data_class)

    def send_batch(self, points, timestamp=None, tags=None):
        self._check()
        self._client.send_batch(points, timestamp, tags)

    def flush(self):
        self._check()
        self._client.persist()
        self._client._sender.wake()

    @property
    def pending(self):
        """Readings accepted and not yet acknowledged by the gateway."""
        return self._client.buffer_size()

    @property
    def dropped(self):
        """Readings lost to a full buffer (the oldest go first)."""
        return self._client.evicted_points

    def start(self):
        return self

    def close(self):
        if not self._closed:
            self.flush()
            self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False
