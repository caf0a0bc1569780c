"""Batches of encoded points with byte accounting.

Points are stored and sent as their compact JSON; a batch is cut before it
would pass the point limit or the byte budget (900 kB, within both a
WebSocket frame and an HTTP body, as a stored batch may go either way), so
no frame the gateway would refuse is ever built. The frames themselves are plexus_core.frames (re-exported
here).
"""

from plexus_core.frames import ingest_body, telemetry_frame  # noqa: F401 (the carriers)
from plexus_core.sizes import json_nbytes as nbytes
from plexus_core.limits import MAX_POINTS_PER_BATCH, WS_FRAME_TARGET, FRAME_ENVELOPE_BYTES

class BatchBuilder:
    """Collects encoded points until the next one would not fit."""

    def __init__(self, max_points=MAX_POINTS_PER_BATCH, max_bytes=WS_FRAME_TARGET):
        self.max_points = max_points
        self.max_bytes = max_bytes
        self.points = []
        self.size = FRAME_ENVELOPE_BYTES

    def fits(self, n):
        """Would a point of n bytes fit? An empty batch takes any one point."""
        if not self.points:
            return True
        return len(self.points) < self.max_points and self.size + n + 1 <= self.max_bytes

    def add(self, encoded, n=None):
        """Append if it fits; returns False (and keeps nothing) when it does not."""
        if n is None:
            n = nbytes(encoded)
        if not self.fits(n):
            return False
        self.points.append(encoded)
        self.size += n + 1
        return True

    def take(self):
        pts = self.points
        self.points = []
        self.size = FRAME_ENVELOPE_BYTES
        return pts

    def __len__(self):
        return len(self.points)


def split(encoded_points, max_points=MAX_POINTS_PER_BATCH, max_bytes=WS_FRAME_TARGET):
    """Cut a list of encoded points into lists that each fit one carrier."""
    b = BatchBuilder(max_points, max_bytes)
    out = []
    for e in encoded_points:
        if not b.add(e):
            out.append(b.take())
            b.add(e)
    if len(b):
        out.append(b.take())
    return out
