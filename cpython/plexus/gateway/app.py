"""The gateway application: routes, shared state, and an orderly shutdown."""

import asyncio
import logging
import os

from aiohttp import web

from plexus.gateway import app_api, data_api, data_delete, device_ws, ingest, metrics, openapi, streams
from plexus.gateway.backpressure import Intake
from plexus.gateway.browser_ws import browser_socket
from plexus.gateway.commands import Commands
from plexus.gateway.edge import data_api_edge
from plexus.gateway.errors import ApiError, error_replies
from plexus.gateway.hub import Hub
from plexus.gateway.jsontext import json_response
from plexus.gateway.profile import DEFAULT
from plexus.gateway.ratelimit import Limits
from plexus.gateway.state import STATE, GatewayState
from plexus.gateway.storage import StoreUnavailable, open_store
from plexus_core import __version__, limits

log = logging.getLogger("plexus.gateway")
DASHBOARD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dashboard")
VERSION_HEADER = "x-plexus-version"
WATCH = web.AppKey("plexus_intake_watch", asyncio.Task)
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


async def health(request):
    """The hosted body exactly; our version travels in a header of our own."""
    return json_response({"status": "ok"}, headers={VERSION_HEADER: __version__})


async def dashboard(request):
    """The web dashboard's static files (it logs in with a key of its own);
    vendor/ holds its chart library, put there by the package build."""
    name = request.match_info.get("name") or "index.html"
    path = os.path.join(DASHBOARD, "vendor" if request.path.startswith("/vendor/") else "", name)
    ext = os.path.splitext(name)[1]
    if "/" in name or name.startswith(".") or ext not in CONTENT_TYPES or not os.path.isfile(path):
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": CONTENT_TYPES[ext], "Cache-Control": "no-cache"})


@web.middleware
async def store_unavailable(request, handler):
    """The database is gone (PostgreSQL restarting): 503, the caller retries.
    A WebSocket is refused before its upgrade while the store is known to be
    down; one that was upgraded already is dropped (the client reconnects)."""
    upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
    if upgrade and not getattr(request.app[STATE].store, "available", True):
        raise _unavailable()
    try:
        return await handler(request)
    except StoreUnavailable as e:
        log.warning("%s %s: %s", request.method, request.path, e)
        if upgrade and request.transport is not None:
            request.transport.close()
        raise _unavailable() from None


def _unavailable():
    return ApiError(503, "the gateway's database is unavailable; try again later", {"Retry-After": "2"})


async def _join_cluster(st):
    """On a shared database (PostgreSQL), this gateway is one replica of many."""
    bus = st.store.bus()
    if bus is None:
        return
    from plexus.gateway.cluster import Cluster
    cluster = Cluster(st.store, st.hub, st.commands, bus)
    st.store.attach_cluster(cluster)
    st.hub.cluster = cluster
    await cluster.start()


def make_app(db_path, rate_limits=None, profile=DEFAULT, max_queued_points=None):
    """The app on the store at `db_path`: a SQLite file or a postgresql:// URL."""
    store = open_store(db_path)
    hub = Hub()
    st = GatewayState(store, hub, rate_limits or Limits(), Commands(store, hub, profile), profile,
                      Intake(max_queued_points))
    # Outermost first: CORS goes on every Data API answer, errors included; the
    # database's 503 is an ApiError like any other.
    app = web.Application(client_max_size=limits.HTTP_BODY_LIMIT,
                          middlewares=[data_api_edge, error_replies, store_unavailable])
    app[STATE] = st
    app.add_routes([
        web.get("/health", health),
        web.get("/openapi.json", openapi.document),
        web.post("/ingest", ingest.ingest),
        web.options("/ingest", ingest.preflight),
        web.get("/ws/device", device_ws.device_socket),
        web.get("/ws/browser", browser_socket),
    ] + metrics.routes() + data_api.routes() + data_delete.routes() + streams.routes() + st.commands.routes() + \
        app_api.routes() + [
        web.get("/", dashboard),
        web.get("/{name}", dashboard),
        web.get("/vendor/{name}", dashboard),
    ])

    async def on_shutdown(app):
        app[WATCH].cancel()
        if profile.goodbye:
            await device_ws.goodbye(st)
        else:
            device_ws.hang_up(st)
        for v in list(hub.metric_viewers | hub.log_viewers | hub.video_viewers):
            await v.ws.close(code=1001, message=b"going away")

    async def on_startup(app):
        await store.open()
        await _join_cluster(st)
        app[WATCH] = asyncio.ensure_future(st.intake.watch())

    async def on_cleanup(app):
        if hub.cluster is not None:
            await hub.cluster.stop()
        await store.aclose()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app
