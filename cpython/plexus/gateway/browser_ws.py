"""`/ws/browser`: the hosted gateway's browser socket (docs/protocol.md §11).

The hosted app's live views and scripts written for them connect here. The
first frame authenticates (`browser_auth` or `share_auth` with a token, or
`data_api_auth` with `api_key`); here every token is one of our API keys,
which needs the read scope. Live data comes from the hub like for every
other viewer: each kind of data is a feed registered with the hub, and all
feeds of one socket share one outgoing queue. Device commands are relayed
only from an allow-list, rebuilt from the listed fields, as `typed_command`
frames; relaying needs the commands scope. A key limited to one source sees
and commands only that source.
"""

import asyncio
import collections
import json
import time
import uuid

from aiohttp import WSMsgType, web

from plexus.gateway.hub import Viewer
from plexus.gateway.jsontext import dumps
from plexus.gateway.state import STATE
from plexus_core import limits

AUTH_TIMEOUT_S = limits.AUTH_TIMEOUT_MS / 1000.0
THROTTLE_S = 10.0          # a hidden tab's throttle ends by itself after this
OUT_QUEUE = 64             # frames waiting for one socket; past it new frames are dropped
MAX_PENDING = 256          # telemetry frames held for a browser that has not asked for more

# The device commands a browser may send, and the fields relayed with each.
COMMAND_FIELDS = {
    "start_stream": ("metrics", "interval_ms", "store"),
    "stop_stream": ("stream_id",),
    "start_camera": ("camera_id", "frame_rate", "resolution", "quality"),
    "stop_camera": ("camera_id",),
    "start_can": ("channel", "dbc_path", "interval_ms"),
    "stop_can": ("channel", "dbc_path", "interval_ms"),
    "start_mavlink": ("connection_string", "interval_ms"),
    "stop_mavlink": ("connection_string", "interval_ms"),
    "mavlink_command": ("connection_string", "command", "mode", "force"),
    "configure": ("sensor", "config"),
    "configure_camera": ("camera_id", "config"),
}
# Each first frame: the field that holds the key, and the answer when it is no key.
AUTH_TYPES = {"browser_auth": ("token", "Invalid session"), "share_auth": ("token", "Invalid share token"),
              "data_api_auth": ("api_key", "Invalid API key")}


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def parse(data):
    """A frame as the hosted gateway reads it (NaN and Infinity are not JSON);
    raises ValueError."""
    try:
        return json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply")


class Feed(Viewer):
    """One kind of live data for a browser socket. The hub matches it like
    any viewer; what matches goes to the socket's one outgoing queue."""

    def __init__(self, conn, source_id="*", wanted=None, pauses=True):
        super().__init__(conn.ws, conn.key, source_id, wanted, queue_size=1)
        self.conn = conn
        self.pauses = pauses  # skipped while the browser's tab is hidden

    def matches(self, source_id):
        return super().matches(source_id) and not (self.pauses and self.conn.throttled())

    def offer(self, text):
        self.conn.out.offer(text)


class Telemetry(Feed):
    """Every source's telemetry, pulled: one frame is sent, the next only
    after the browser says `ready`. What arrives meanwhile is held and sent
    as one frame, in order (oldest dropped past MAX_PENDING frames)."""

    def __init__(self, conn):
        super().__init__(conn)
        self.hungry = True
        self.pending = collections.deque(maxlen=MAX_PENDING)

    def matches(self, source_id):
        return Viewer.matches(self, source_id)  # a hidden tab still collects, to be current when shown

    def offer(self, text):
        self.pending.append(text)
        if self.hungry and not self.conn.throttled():
            self._send()

    def ready(self):
        if self.pending:
            self._send()
        else:
            self.hungry = True

    def _send(self):
        self.hungry = False
        texts = list(self.pending)
        self.pending.clear()
        if len(texts) > 1:
            texts = [dumps({"type": "telemetry", "points": [p for t in texts for p in json.loads(t)["points"]]})]
        self.conn.out.offer(texts[0])


class Video(Feed):
    """Camera frames: the subscribed cameras (all when none), at most
    `max_fps` frames a second per camera."""

    def __init__(self, conn, source_id="*", cameras=None, max_fps=0):
        super().__init__(conn, source_id, cameras)
        self.gap_s = 1.0 / max_fps if max_fps > 0 else 0
        self.last_sent = {}

    def wants(self, camera_id):
        if not super().wants(camera_id):
            return False
        if self.gap_s:
            now = time.monotonic()
            if now - self.last_sent.get(camera_id, -self.gap_s) < self.gap_s:
                return False
            self.last_sent[camera_id] = now
        return True


class BrowserConn:
    def __init__(self, ws, st, key, kind):
        self.ws = ws
        self.st = st
        self.key = key
        self.read_only = kind == "share_auth"
        self.throttle_until = 0.0
        self.out = Viewer(ws, key, "*", queue_size=OUT_QUEUE)
        self.feeds = {"events": Feed(self), "video": Video(self), "notices": Feed(self)}
        if kind != "data_api_auth":   # an API-key connection asks for metrics by subscribing
            self.feeds["telemetry"] = Telemetry(self)

    def throttled(self):
        return time.monotonic() < self.throttle_until

    def _sets(self):
        hub = self.st.hub
        return {"events": hub.log_viewers, "video": hub.video_viewers, "notices": hub.notice_viewers,
                "telemetry": hub.metric_viewers, "metrics": hub.metric_viewers}

    def start(self):
        sets = self._sets()
        for name, feed in self.feeds.items():
            sets[name].add(feed)

    def stop(self):
        sets = self._sets()
        for name, feed in self.feeds.items():
            sets[name].discard(feed)
        self.out.stop()

    def replace(self, name, feed):
        sets = self._sets()
        old = self.feeds.pop(name, None)
        if old is not None:
            sets[name].discard(old)
        if feed is not None:
            self.feeds[name] = feed
            sets[name].add(feed)

    async def send(self, frame):
        if not self.ws.closed:
            await self.ws.send_str(dumps(frame))

    async def error(self, message):
        await self.send({"type": "error", "message": message})

    # -- frames from the browser --------------------------------------------------
    async def handle(self, f):
        t = f.get("type")
        if t == "subscribe":
            self.subscribe(f)
        elif t == "set_throttle":
            self.throttle_until = time.monotonic() + THROTTLE_S if f.get("enabled") is True else 0.0
        elif t == "ready":
            if "telemetry" in self.feeds:
                self.feeds["telemetry"].ready()
        elif t == "ping":
            await self.send({"type": "pong"})
        elif isinstance(t, str) and t in COMMAND_FIELDS:
            await self.command(t, f)
        # anything else is ignored, as the hosted gateway does

    def subscribe(self, f):
        sid = f.get("source_id") if isinstance(f.get("source_id"), str) else ""
        stream = f.get("stream")
        if stream == "metrics":
            names = f.get("metrics") if isinstance(f.get("metrics"), list) else []
            wanted = set(m for m in names if isinstance(m, str)) or None
            self.replace("metrics", Feed(self, sid, wanted, pauses=False) if sid else None)
        elif stream == "logs":
            self.replace("events", Feed(self, sid or "*"))
        else:   # cameras: the new set replaces the old one
            cams = f.get("cameras") if isinstance(f.get("cameras"), list) else []
            fps = f.get("max_fps")
            fps = int(fps) if type(fps) in (int, float) and 0 < fps < 1e6 else 0
            self.replace("video", Video(self, sid or "*", set(c for c in cams if isinstance(c, str)) or None, fps))

    async def command(self, name, f):
        if self.read_only:
            return await self.error("shared view is read-only")
        if not self.key.can("commands"):
            return await self.error("API key lacks commands scope")
        sid = f.get("source_id")
        if not isinstance(sid, str) or not sid:
            return await self.error("source_id required")
        if not self.key.may_use(sid):
            return await self.error("API key is limited to another source")
        device = self.st.hub.device(sid)
        if device is None:
            return await self.error("device not connected")
        params = {"source_id": sid}
        params.update((k, f[k]) for k in COMMAND_FIELDS[name] if k in f)
        cid = str(uuid.uuid4())
        await self.st.store.new_command(cid, sid, name, params)  # so the device's command_result is kept
        try:
            await device.send({"type": "typed_command", "id": cid, "command": name, "params": params})
        except (ConnectionError, RuntimeError):
            await self.error("device not connected")


async def _first_frame(ws):
    """The parsed first frame; None when nothing readable came in time."""
    try:
        msg = await asyncio.wait_for(ws.receive(), AUTH_TIMEOUT_S)
    except asyncio.TimeoutError:
        return None
    if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
        return None
    try:
        f = parse(msg.data)
    except ValueError:
        return "invalid JSON"
    if f is None:   # JSON null reads as an empty object on the hosted gateway
        f = {}
    return f if isinstance(f, dict) else "invalid JSON"


async def _authenticate(ws, st):
    """(key, auth type), or (None, message to send before closing)."""
    f = await _first_frame(ws)
    if f is None:
        return None, None
    if isinstance(f, str):
        return None, f
    kind = f.get("type")
    field, unknown = AUTH_TYPES.get(kind, (None, None)) if isinstance(kind, str) else (None, None)
    if field is None:
        return None, "first message must be browser_auth, share_auth, or data_api_auth"
    presented = f.get(field)
    if not isinstance(presented, str) or not presented:
        return None, "%s required" % field
    key = await st.store.key(presented)
    if key is None:
        return None, unknown
    if not key.can("read"):
        return None, "API key lacks read scope"
    return key, kind


async def browser_socket(request):
    st = request.app[STATE]
    ws = web.WebSocketResponse(max_msg_size=limits.WS_READ_LIMIT, heartbeat=30.0, compress=False)
    await ws.prepare(request)
    key, kind = await _authenticate(ws, st)
    if key is None:
        if kind is not None:
            await ws.send_str(dumps({"type": "error", "message": kind}))
        await ws.close(code=1008, message=b"auth failed")
        return ws
    conn = BrowserConn(ws, st, key, kind)
    conn.start()   # what is published from here on waits in the queue behind `init`
    pump = None
    try:
        await conn.send({"type": "init", "online_sources": st.hub.online_sources(key)})
        pump = asyncio.ensure_future(conn.out.pump())
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                try:
                    f = parse(msg.data)
                except ValueError:
                    continue
                if isinstance(f, dict):
                    await conn.handle(f)
            elif msg.type == WSMsgType.ERROR:
                break
    except ConnectionError:  # the browser vanished while we were answering it
        pass
    finally:
        conn.stop()
        if pump is not None:
            pump.cancel()
    return ws
