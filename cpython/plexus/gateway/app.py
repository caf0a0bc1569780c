"""The gateway application: routes, shared state, and an orderly shutdown."""

import logging
import os

from aiohttp import web

from plexus.gateway import app_api, data_api, device_ws, ingest, streams
from plexus.gateway.commands import Commands
from plexus.gateway.hub import Hub
from plexus.gateway.profile import DEFAULT
from plexus.gateway.ratelimit import Limits
from plexus.gateway.state import STATE, GatewayState
from plexus.gateway.store import SqliteStore
from plexus_core import __version__, limits

log = logging.getLogger("plexus.gateway")
DASHBOARD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dashboard")
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


async def health(request):
    return web.json_response({"status": "ok", "version": __version__})


async def dashboard(request):
    """The web dashboard's static files (it logs in with a key of its own)."""
    name = request.match_info.get("name") or "index.html"
    path = os.path.join(DASHBOARD, name)
    ext = os.path.splitext(name)[1]
    if "/" in name or name.startswith(".") or ext not in CONTENT_TYPES or not os.path.isfile(path):
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": CONTENT_TYPES[ext], "Cache-Control": "no-cache"})


def make_app(db_path, rate_limits=None, profile=DEFAULT):
    store = SqliteStore(db_path)
    hub = Hub()
    st = GatewayState(store, hub, rate_limits or Limits(), Commands(store, hub, profile), profile)
    app = web.Application(client_max_size=limits.HTTP_BODY_LIMIT)
    app[STATE] = st
    app.add_routes([
        web.get("/health", health),
        web.post("/ingest", ingest.ingest),
        web.options("/ingest", ingest.preflight),
        web.get("/ws/device", device_ws.device_socket),
    ] + data_api.routes() + streams.routes() + st.commands.routes() + app_api.routes() + [
        web.get("/", dashboard),
        web.get("/{name}", dashboard),
    ])

    async def on_shutdown(app):
        if profile.goodbye:
            await device_ws.goodbye(st)
        else:
            device_ws.hang_up(st)
        for v in list(hub.metric_viewers | hub.log_viewers | hub.video_viewers):
            await v.ws.close(code=1001, message=b"going away")

    async def on_cleanup(app):
        store.close()

    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app
