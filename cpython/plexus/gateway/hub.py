"""Who is connected right now: device sockets by source, and live viewers.

Live data is published after it is stored. Each viewer has a small queue
drained by its own task, so a slow viewer loses frames instead of slowing a
device or other viewers.
"""

import asyncio
import time
import uuid

from plexus.gateway.jsontext import dumps


ONLINE_WINDOW_MS = 60000  # an HTTP-only source is online this long after its last request
ORG_ID = "local"          # live points name their organisation; one gateway is one


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

    def wants(self, name):
        """Whether this viewer takes the named metric or camera."""
        return self.wanted is None or name in self.wanted

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
        self.metric_viewers = set()
        self.log_viewers = set()
        self.video_viewers = set()
        self.notice_viewers = set()  # source_status, heartbeats, command results (the browser socket)
        self.cluster = None     # other replicas on the same database (cluster.py), if any

    # devices
    def attach(self, conn):
        """The newest connection of a source wins: older ones are hung up
        (no close frame), as the hosted gateway evicts them."""
        conns = self.devices.setdefault(conn.source_id, [])
        for old in conns:
            old.hang_up()
        conns.append(conn)
        self.publish_notice(conn.source_id, self._online(conn))
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
            self.publish_notice(conn.source_id, {"type": "source_status", "source_id": conn.source_id,
                                                 "status": "offline"})

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
        trace = str(uuid.uuid4())  # one per batch, as the hosted gateway stamps them
        for v in self.metric_viewers:
            if v.matches(source_id):
                sel = [p for p in metrics if v.wanted is None or p["metric"] in v.wanted]
                if sel:
                    v.offer(dumps({"type": "telemetry", "points": [_live(source_id, p, trace) for p in sel]}))
        for p in points:
            if p["class"] != "event":
                continue
            text = None
            for v in self.log_viewers:
                if v.matches(source_id) and (v.wanted is None or p["metric"] in v.wanted):
                    if text is None:
                        text = dumps(_live(source_id, p, trace))
                    v.offer(text)

    def saw_camera(self, conn, camera_id, video_type=None):
        """True the first time a camera is seen on this connection (declared ones included)."""
        if any(c["camera_id"] == camera_id for c in conn.cameras):
            return False
        conn.cameras.append({"camera_id": camera_id, "video_type": video_type or "normal"})
        if self.device(conn.source_id) is conn:
            self.publish_notice(conn.source_id, self._online(conn))
        return True

    def publish_video(self, frame, relay=True):
        if relay and self.cluster is not None:
            self.cluster.relay_video(frame)
        text = None
        for v in self.video_viewers:
            if v.matches(frame["source_id"]) and v.wants(frame["camera_id"]):
                if text is None:
                    text = dumps(frame)
                v.offer(text)

    def publish_heartbeat(self, source_id, uptime_s=None):
        frame = {"type": "heartbeat", "class": "heartbeat", "source_id": source_id, "status": "running",
                 "timestamp": int(time.time() * 1000)}
        if uptime_s is not None:
            frame["uptime_s"] = uptime_s
        self.publish_notice(source_id, frame)

    def publish_notice(self, source_id, frame):
        text = None
        for v in self.notice_viewers:
            if v.matches(source_id):
                if text is None:
                    text = dumps(frame)
                v.offer(text)

    def _online(self, conn):
        e = self._entry(conn)
        e.update(type="source_status", status="online")
        return e

    @staticmethod
    def _entry(conn):
        platform = conn.platform if isinstance(conn.platform, str) else ""
        return {"source_id": conn.source_id, "platform": platform, "sensors": conn.sensors,
                "cameras": [dict(c) for c in conn.cameras]}

    def online_sources(self, key):
        """The connected sources the key may see, as a viewer's `init` lists them."""
        return [self._entry(self.device(sid)) for sid in sorted(self.devices) if key.may_use(sid)]


def declared_cameras(value):
    """The `cameras` of a device_auth as [{camera_id, video_type}]: entries
    that are objects with a string camera_id (or bare camera id strings)."""
    out = []
    for c in value if isinstance(value, list) else []:
        if isinstance(c, str):
            c = {"camera_id": c}
        if isinstance(c, dict) and isinstance(c.get("camera_id"), str) and c["camera_id"] \
                and not any(d["camera_id"] == c["camera_id"] for d in out):
            vt = c.get("video_type")
            out.append({"camera_id": c["camera_id"], "video_type": vt if isinstance(vt, str) and vt else "normal"})
    return out


def _live(source_id, p, trace):
    """A live point with the fields the hosted stream gives it, in its order
    (keys sorted, as its encoder writes them)."""
    out = {"class": p["class"], "metric": p["metric"], "org_id": ORG_ID, "source_id": source_id}
    if p.get("tags"):
        out["tags"] = p["tags"]
    out["timestamp"] = p["timestamp"]
    out["trace_id"] = trace
    if p["class"] == "event":
        out["type"] = "event"
    out["v"] = 1
    out["value"] = p["value"]
    return out
