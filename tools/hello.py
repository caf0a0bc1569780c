"""Smallest real thing until `plexus demo` exists: build, validate and frame
readings with plexus_core exactly as a device would send them."""

from plexus_core import batch
from plexus_core.clock import Clock
from plexus_core.points import make_point, encode_point

clock = Clock()
pts = [encode_point(make_point("coolant.temp_c", 81.4 + i / 10, now_ms=clock.now_ms))
       for i in range(3)]
pts.append(encode_point(make_point("state_change", {"from": "IDLE", "to": "PRIMING"},
                                   tags={"line": "B"}, now_ms=clock.now_ms)))
print(batch.telemetry_frame(pts, 1, "demo-1"))
try:
    make_point("coolant.temp_c", float("nan"))
except ValueError as e:
    print("rejected at the edge:", e)
