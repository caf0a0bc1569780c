"""Who is connected right now: device sockets by source, and live viewers.

Live data is published after it is stored. Each viewer has a small queue
drained by its own task, so a slow viewer loses frames instead of slowing a
device or other viewers.
"""

import asyncio
import json
import time

ONLINE_WINDOW_MS = 60000  # an HTTP-only source is online this long after its last request


class Viewer:
    def __init__(self, ws, key, source_id, wanted=None, queue_size=256, latest_wins=False):
        self.ws = ws
        self.key = key
        self.source_id = source_id   # "*" = every source the key may read
        self.wanted = wanted         # metric names or camera ids, None = all
        self.latest_wins = latest_wins
        self.dropped = 0
        self._q = asyncio.Queue(queue_size)

    def matches(self, source_id):
        return (self.source_id == "*" or self.source_id == source_id) and self.key.may_use(source_id)

    def offer(self, text):
        try:
            self._q.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.latest_wins:      # video: the newest frame replaces the oldest
                self._q.get_nowait()
                self._q.put_nowait(text)

    def stop(self):
        try:
            self._q.put_nowait(None)
        except asyncio.QueueFull:
            self._q.get_nowait()
            self._q.put_nowait(None)

    async def pump(self):
        while True:
            text = await self._q.get()
            if text is None or self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return


class Hub:
    def __init__(self):
        self.devices = {}       # source_id -> [DeviceConn, ...]
        self.http_seen = {}     # source_id -> last /ingest time (ms)
        self.cameras = {}       # source_id -> [camera_id, ...] seen live
        self.metric_viewers = set()
        self.log_viewers = set()
        self.video_viewers = set()
        self.cluster = None     # other replicas on the same database (cluster.py), if any

    # devices
    def attach(self, conn):
        self.devices.setdefault(conn.source_id, []).append(conn)
        if self.cluster is not None:
            self.cluster.attached(conn)

    def detach(self, conn):
        conns = self.devices.get(conn.source_id, [])
        if conn in conns:
            conns.remove(conn)
            if self.cluster is not None:
                self.cluster.detached(conn)
        if not conns:
            self.devices.pop(conn.source_id, None)
            self.cameras.pop(conn.source_id, None)

    def device(self, source_id):
        """The newest connection of a source, or None."""
        conns = self.devices.get(source_id)
        return conns[-1] if conns else None

    def all_devices(self):
        return [c for conns in self.devices.values() for c in conns]

    def held_elsewhere(self, source_id):
        """True when another replica holds a socket of this source."""
        return self.cluster is not None and self.cluster.held_elsewhere(source_id)

    def online(self, source_id):
        if source_id in self.devices or self.held_elsewhere(source_id):
            return True
        t = self.http_seen.get(source_id)
        return t is not None and time.time() * 1000 - t < ONLINE_WINDOW_MS

    # live data
    def publish_points(self, source_id, points):
        if not (self.metric_viewers or self.log_viewers):
            return
        metrics = [p for p in points if p["class"] == "metric"]
        for v in self.metric_viewers:
            if v.matches(source_id):
                sel = [p for p in metrics if v.wanted is None or p["metric"] in v.wanted]
                if sel:
                    v.offer(json.dumps({"type": "telemetry", "points": [_live(source_id, p) for p in sel]}))
        for p in points:
            if p["class"] != "event":
                continue
            text = None
            for v in self.log_viewers:
                if v.matches(source_id) and (v.wanted is None or p["metric"] in v.wanted):
                    if text is None:
                        text = json.dumps(dict(_live(source_id, p), type="event"))
                    v.offer(text)

    def saw_camera(self, source_id, camera_id):
        """True the first time a camera is seen on this connection."""
        cams = self.cameras.setdefault(source_id, [])
        if camera_id in cams:
            return False
        cams.append(camera_id)
        return True

    def publish_video(self, frame, relay=True):
        if relay and self.cluster is not None:
            self.cluster.relay_video(frame)
        text = None
        for v in self.video_viewers:
            if v.matches(frame["source_id"]) and (v.wanted is None or frame["camera_id"] in v.wanted):
                if text is None:
                    text = json.dumps(frame)
                v.offer(text)

    def online_cameras(self, key):
        return [{"source_id": sid, "cameras": list(self.cameras.get(sid, []))}
                for sid in sorted(self.devices) if key.may_use(sid)]


def _live(source_id, p):
    out = {"source_id": source_id, "metric": p["metric"], "value": p["value"],
           "timestamp": p["timestamp"], "class": p["class"]}
    if p.get("tags"):
        out["tags"] = p["tags"]
    return out
