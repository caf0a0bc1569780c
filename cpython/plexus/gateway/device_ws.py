"""`/ws/device`: the device socket (docs/protocol.md §4).

Telemetry is acknowledged only after the writer has committed it. Acks and
per-frame errors leave through one ordered queue per connection, because
acks are cumulative: an error for frame N sent before frames below N are
stored would release them at the client before they are safe.
"""

import asyncio
import collections
import logging
import socket

from aiohttp import WSMsgType, web

from plexus.gateway import jsonread, video
from plexus.gateway.hub import declared_cameras
from plexus.gateway.jsontext import dumps
from plexus.gateway.state import STATE
from plexus.gateway.store import now_ms, store_unavailable
from plexus_core import limits
from plexus_core.source_id import source_id_error
from plexus_core.wire import check_wire_point

log = logging.getLogger("plexus.gateway")

AUTH_TIMEOUT_S = limits.AUTH_TIMEOUT_MS / 1000.0
PING_INTERVAL_S = limits.HEARTBEAT_MS / 1000.0
MAX_BATCH_ID = 128
ACK = b'{"type":"telemetry_ack","seq":%d}'  # seq is an int: the text dumps() would write
ACK_BUFFER_BYTES = 65536  # unsent bytes past which acks wait for the socket to drain
# A dead peer is found by a failed write or by TCP keepalive (15 s idle, then
# 9 probes 15 s apart, as Go servers use), never by a missing pong.
KEEPALIVE = (("TCP_KEEPIDLE", 15), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 9))


class DeviceConn:
    """One authenticated device socket."""

    def __init__(self, ws, source_id, auth, limits_, profile, transport):
        self.ws = ws
        self.transport = transport   # to hang up without a close frame
        self.source_id = source_id
        self.acks = profile.acks and auth.get("acks") is True
        self.protocol = auth.get("protocol")
        self.platform = auth.get("platform")
        self.sensors = auth.get("sensors")               # shown to viewers as the device sent them
        self.cameras = declared_cameras(auth.get("cameras"))  # more join as their frames arrive
        self.agent_version = auth.get("agent_version")
        self.commands = auth.get("commands") if isinstance(auth.get("commands"), list) else []
        self.telemetry_bucket = limits_.telemetry_bucket()
        self.control_bucket = limits_.control_bucket()
        self.out = Outbox()          # (seq, store future or None, points or error frame)
        self.rate_limited = 0
        self.sender = None           # the task draining `out`

    def hang_up(self):
        """Close the TCP connection without a WebSocket close frame."""
        if self.transport is not None:
            self.transport.abort()

    async def send(self, frame):
        await self.send_text(dumps(frame))

    async def send_text(self, text):
        if not self.ws.closed:
            await self.ws.send_str(text)

    async def send_ack(self, seq):
        """An ack straight onto the socket as one unmasked text frame (under
        126 bytes): aiohttp's frame writer was a tenth of the event loop's
        time per frame under a fleet's load. Through aiohttp when the socket
        compresses, is closing, or has a backlog to drain."""
        payload = ACK % seq
        t = self.transport
        if len(payload) > 125 or self.ws.compress or self.ws.closed or t is None or t.is_closing() or \
                t.get_write_buffer_size() > ACK_BUFFER_BYTES:
            await self.send_text(payload.decode())
            return
        t.write(bytes((0x81, len(payload))) + payload)


class Outbox:
    """A connection's acks and errors in arrival order. get() hands out an
    item only once its store write is done, so the sender task wakes once per
    frame, not once to take it and again when it is stored."""

    def __init__(self):
        self._items = collections.deque()
        self._waiter = None

    def put_nowait(self, item):
        """item: (seq, future or None, payload), or None for the end."""
        self._items.append(item)
        fut = None if item is None else item[1]
        if fut is not None and not fut.done():
            fut.add_done_callback(self._settled)
        elif len(self._items) == 1:
            self._wake()

    def _settled(self, fut):
        head = self._items[0] if self._items else None
        if head is not None and head[1] is fut:
            self._wake()

    def _wake(self):
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _ready(self):
        if not self._items:
            return False
        head = self._items[0]
        return head is None or head[1] is None or head[1].done()

    async def get(self):
        while not self._ready():
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


async def _refuse(ws, message):
    await ws.send_str(dumps({"type": "error", "message": message}))
    await ws.close(code=1008, message=b"auth failed")
    return ws


def _seq(f):
    s = f.get("seq")
    return s if type(s) is int and s > 0 else None


def _keepalive(transport):
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in KEEPALIVE:
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    except OSError:
        pass


async def _pinger(ws):
    """A ping every 30 s; no pong is awaited (a quiet device is not a dead one)."""
    while not ws.closed:
        await asyncio.sleep(PING_INTERVAL_S)
        try:
            await ws.ping()
        except (ConnectionError, RuntimeError):
            return


async def device_socket(request):
    st = request.app[STATE]
    # Text frames arrive as bytes: invalid UTF-8 is tolerated, not a 1007 close.
    ws = web.WebSocketResponse(max_msg_size=limits.WS_READ_LIMIT, decode_text=False)
    await ws.prepare(request)
    _keepalive(request.transport)
    try:
        msg = await asyncio.wait_for(ws.receive(), AUTH_TIMEOUT_S)
    except asyncio.TimeoutError:
        return await _refuse(ws, "auth timeout: first message must be device_auth")
    auth = None
    if msg.type == WSMsgType.TEXT:
        try:
            auth = jsonread.loads(jsonread.decode(msg.data)[0])
        except ValueError:
            pass
    if not isinstance(auth, dict) or auth.get("type") != "device_auth":
        return await _refuse(ws, "first message must be device_auth")
    key = await st.store.key(auth.get("api_key"))
    if key is None:
        return await _refuse(ws, "Invalid API key")
    if not key.can("write"):
        return await _refuse(ws, "API key lacks write scope")
    source_id = auth.get("source_id")
    err = source_id_error(source_id, allow_uuid=True)
    if err:
        return await _refuse(ws, "invalid source_id: " + err)
    if not key.may_use(source_id):
        return await _refuse(ws, "API key is limited to another source")

    conn = DeviceConn(ws, source_id, auth, st.limits, st.profile, request.transport)
    manifest_errors = st.commands.check_manifest(conn)  # drops the entries it reports
    await st.store.describe_source(source_id, conn.platform, conn.agent_version, conn.commands, None)
    st.hub.attach(conn)
    log.info("device %s connected (%s %s)", source_id, conn.platform, conn.agent_version)
    sender = conn.sender = asyncio.ensure_future(_send_results(conn, st))
    pinger = asyncio.ensure_future(_pinger(ws))
    try:
        reply = {"type": "authenticated", "source_id": source_id}
        if st.profile.commands_v1:  # the hosted snapshot names no protocol version or frame limit
            reply.update(protocol=1, max_frame_bytes=limits.WS_READ_LIMIT)
        if conn.acks:
            reply["acks"] = True
        reply["server_time_ms"] = now_ms()  # last, so the disk write above does not age it
        await ws.send_str(dumps(reply))
        for e in manifest_errors:
            await conn.send(e)
        await st.commands.device_connected(conn)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await _text(conn, st, msg.data)
            elif msg.type == WSMsgType.BINARY:
                _binary(conn, st, msg.data)
            elif msg.type == WSMsgType.ERROR:
                break
            await st.intake.room()  # the store is behind: stop reading, TCP pushes back on the device
    except ConnectionError:  # the device vanished while we were answering it
        pass
    finally:
        pinger.cancel()
        st.hub.detach(conn)
        if st.hub.device(source_id) is None:
            st.limits.forget(source_id)
        conn.out.put_nowait(None)
        await sender
        log.info("device %s disconnected (close code %s)", source_id, ws.close_code)
    return ws


async def _send_results(conn, st):
    """Ack (or report an error for) each frame in arrival order, after it is stored."""
    while True:
        item = await conn.out.get()
        if item is None:
            return
        seq, fut, payload = item
        if fut is None:
            frame = payload
        else:
            try:
                stored = await fut
            except Exception as e:
                log.error("storing telemetry from %s failed: %s", conn.source_id, e)
                if not store_unavailable(e):  # this frame's data: refuse it, never retry it forever
                    await _quietly(conn.send(_error("INVALID_MESSAGE", "the gateway could not store this "
                                                    "frame: %s" % e, seq)))
                    continue
                # the disk: nothing is acknowledged, the device replays after reconnecting
                await _quietly(conn.send({"type": "error", "code": "REDIS_UNAVAILABLE",
                                          "detail": "the gateway could not store telemetry; try again later"}))
                await _quietly(conn.ws.close(code=1013, message=b"try again later"))
                return
            if stored is not None:
                st.hub.publish_points(conn.source_id, payload)
            if not (conn.acks and seq is not None):
                continue
            st.counters.acks_sent += 1
            await _quietly(conn.send_ack(seq))
            continue
        await _quietly(conn.send(frame))


async def _quietly(aw):
    try:
        await aw
    except (ConnectionError, RuntimeError):
        pass


def _error(code, detail, seq=None):
    f = {"type": "error", "code": code, "detail": detail}
    if seq is not None:
        f["seq"] = seq
    return f


async def _text(conn, st, data):
    try:
        f, valid_utf8 = jsonread.read(data)
    except ValueError:
        await conn.send(_error("INVALID_JSON", "frame is not valid JSON"))
        return
    if not isinstance(f, dict):
        await conn.send(_error("INVALID_MESSAGE", "frame must be a JSON object"))
        return
    t = f.get("type")
    if t == "telemetry" or t == "video_frame":
        st.counters.telemetry_frames += t == "telemetry"
        if not conn.telemetry_bucket.take():
            conn.rate_limited += 1
            conn.out.put_nowait((_seq(f), None, _error("RATE_LIMITED", "message rate exceeded", _seq(f))))
            return
        if t == "telemetry":
            _telemetry(conn, st, f)
        elif not valid_utf8:  # relayed to viewers as text, which must be valid UTF-8
            await conn.send(_error("INVALID_FRAME_ENCODING", "video_frame text is not valid UTF-8"))
        else:
            frame = video.from_json(f, conn.source_id)
            if isinstance(frame, str):
                await conn.send(_error("INVALID_MESSAGE", frame))
            else:
                _relay(conn, st, frame)
        return
    if not conn.control_bucket.take():
        await conn.send(_error("RATE_LIMITED", "control message rate exceeded"))
        return
    if t == "heartbeat":
        st.store.touch_source(conn.source_id)
        st.hub.publish_heartbeat(conn.source_id, f.get("uptime_s"))
        sync = f.get("sync")
        if type(sync) in (int, float) and st.profile.clock_sync:  # our clock-sync extension: echo our time
            await conn.send({"type": "time", "sync": f["sync"], "server_time_ms": now_ms()})
    elif t == "pong" or t == "device_auth":  # a repeated device_auth changes nothing, as hosted
        pass
    elif t == "device_error":  # stored as sent, a missing `error` as null, as the hosted gateway does
        p = {"class": "event", "metric": "device.error", "value": f.get("error"), "timestamp": now_ms()}
        if isinstance(f.get("source"), str):
            p["tags"] = {"error_source": f["source"][:256]}
        conn.out.put_nowait((None, st.store.store_batch(conn.source_id, None, [p]), [p]))
    elif t == "command_result" or (st.profile.commands_v1 and t in ("command_status", "command_sync")):
        await st.commands.device_frame(conn, f)
    else:
        await conn.send(_error("INVALID_MESSAGE", "unknown message type: %r" % (t,)))


def _telemetry(conn, st, f):
    seq = _seq(f)
    points = f.get("points")
    batch_id = f.get("batch_id") if st.profile.batch_dedup else None
    detail = None
    if not isinstance(points, list):
        detail = "points must be an array"
    elif len(points) > limits.MAX_POINTS_PER_BATCH:
        detail = "points: %d points; the limit is %d per frame" % (len(points), limits.MAX_POINTS_PER_BATCH)
    elif batch_id is not None and (not isinstance(batch_id, str) or not 0 < len(batch_id) <= MAX_BATCH_ID):
        detail = "batch_id must be a string of 1 to %d characters" % MAX_BATCH_ID
    else:
        now = now_ms()
        clean = []
        for i, p in enumerate(points):
            try:
                p = check_wire_point(p, rescale_seconds=False)  # WS never rescales seconds (docs/protocol.md §4.6)
            except ValueError as e:
                detail = "points[%d]: %s" % (i, e)
                break
            if p["timestamp"] is None:
                p["timestamp"] = now
            clean.append(p)
    if detail is not None:
        conn.out.put_nowait((seq, None, _error("INVALID_MESSAGE", detail, seq)))
        return
    if not st.limits.source_allows(conn.source_id):
        if not st.profile.silent_source_limit:
            conn.out.put_nowait((seq, None, _error("SOURCE_LIMIT", "this source is over its message ceiling; "
                                                   "send fewer, larger batches", seq)))
        return  # the hosted ceiling drops the frame without a word
    conn.out.put_nowait((seq, st.intake.track(st.store.store_batch(conn.source_id, batch_id, clean), len(clean)),
                         clean))


def _binary(conn, st, data):
    if not conn.telemetry_bucket.take():
        conn.rate_limited += 1
        return
    frame = video.parse_binary(data, conn.source_id)
    if frame is not None:  # malformed binary frames are dropped silently, as the hosted gateway does
        _relay(conn, st, frame)


def _relay(conn, st, frame):
    if st.hub.saw_camera(conn, frame["camera_id"], frame.get("video_type")):
        st.store.add_camera(conn.source_id, frame["camera_id"])
    st.hub.publish_video(frame)


async def goodbye(st):
    """Before shutdown: let stored frames be acknowledged, then close 1001."""
    conns = st.hub.all_devices()
    for c in conns:
        c.out.put_nowait(None)
    senders = [c.sender for c in conns if c.sender is not None]
    if senders:
        await asyncio.wait(senders, timeout=5)
    for c in conns:
        await _quietly(c.ws.close(code=1001, message=b"going away"))


def hang_up(st):
    """Shutdown without a goodbye (the hosted snapshot): the sockets just close."""
    for c in st.hub.all_devices():
        c.hang_up()
