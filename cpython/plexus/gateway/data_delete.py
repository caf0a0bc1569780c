"""`DELETE /v1/sources/{source_id}`: forget everything stored for one
source (readings, events, batch ids). Needs a key with the write scope that
may use that source."""

from aiohttp import web

from plexus.gateway.state import STATE, require_source


async def delete_source(request):
    _, sid = await require_source(request, "write")
    n = await request.app[STATE].store.delete_source(sid)
    return web.json_response({"source_id": sid, "deleted_points": n})


def routes():
    return [web.delete("/v1/sources/{source_id}/data", delete_source)]
