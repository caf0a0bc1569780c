"""Live streams for viewers (docs/protocol.md §8): metrics, logs and video.

The first frame must be `{"type": "auth", "api_key": ...}` within 10 s; the
key never travels in the URL.
"""

import asyncio
import json

from aiohttp import WSMsgType, web

from plexus.gateway.hub import Viewer
from plexus.gateway.jsontext import dumps
from plexus.gateway.state import STATE

AUTH_TIMEOUT_S = 10.0
DEFAULT_VIDEO_TIMEOUT_S = 600


async def _authenticate(ws, st, source_id, scope="read"):
    """The viewer's key, or None when it failed (the caller closes)."""
    try:
        msg = await asyncio.wait_for(ws.receive(), AUTH_TIMEOUT_S)
    except asyncio.TimeoutError:
        return None
    if msg.type != WSMsgType.TEXT:
        return None
    try:
        f = json.loads(msg.data)
    except ValueError:
        return None
    if not isinstance(f, dict) or f.get("type") != "auth":
        return None
    key = await st.store.key(f.get("api_key"))
    if key is None or not key.can(scope) or (source_id != "*" and not key.may_use(source_id)):
        return None
    return key


async def _serve(ws, viewer, viewers, timeout_s=None):
    viewers.add(viewer)
    pump = asyncio.ensure_future(viewer.pump())
    reader = asyncio.ensure_future(_drain(ws))
    try:
        done, _ = await asyncio.wait([pump, reader], timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        return not done  # True: the viewer's timeout ran out
    finally:
        viewers.discard(viewer)
        viewer.stop()
        reader.cancel()
        pump.cancel()


async def _drain(ws):
    async for msg in ws:
        if msg.type == WSMsgType.ERROR:
            return


def _wanted(request, name):
    text = request.query.get(name)
    return set(m for m in text.split(",") if m) if text else None


async def metrics_stream(request):
    return await _points_stream(request, "metric_viewers", _wanted(request, "metrics"))


async def logs_stream(request):
    return await _points_stream(request, "log_viewers", _wanted(request, "names"))


async def _open(request, unauthorized_code):
    """The accepted socket and the viewer's key, or (socket, None) after
    closing it with `unauthorized_code`."""
    ws = web.WebSocketResponse(heartbeat=30.0)
    await ws.prepare(request)
    key = await _authenticate(ws, request.app[STATE], request.match_info["source_id"])
    if key is None:
        await ws.close(code=unauthorized_code, message=b"unauthorized")
    return ws, key


async def _points_stream(request, kind, wanted):
    ws, key = await _open(request, 4401)
    if key is not None:
        hub = request.app[STATE].hub
        await _serve(ws, Viewer(ws, key, request.match_info["source_id"], wanted), getattr(hub, kind))
        await ws.close()
    return ws


async def video_stream(request):
    cams = [c for c in request.query.getall("camera_id", []) if c]
    wanted = None if not cams or cams == ["default"] else set(cams)
    try:
        timeout_s = float(request.query.get("timeout", DEFAULT_VIDEO_TIMEOUT_S))
    except ValueError:
        timeout_s = DEFAULT_VIDEO_TIMEOUT_S
    ws, key = await _open(request, 4001)
    if key is None:
        return ws
    hub = request.app[STATE].hub
    await ws.send_str(dumps({"type": "init", "online_sources": hub.online_sources(key)}))
    viewer = Viewer(ws, key, request.match_info["source_id"], wanted, queue_size=2, latest_wins=True)
    if await _serve(ws, viewer, hub.video_viewers, timeout_s):
        await ws.close(code=4008, message=b"timeout")
    else:
        await ws.close()
    return ws


def routes():
    return [
        web.get("/v1/sources/{source_id}/metrics/stream", metrics_stream),
        web.get("/v1/sources/{source_id}/logs/stream", logs_stream),
        web.get("/v1/sources/{source_id}/events/stream", logs_stream),
        web.get("/v1/sources/{source_id}/video/stream", video_stream),
    ]
