"""CORS for any origin on the Data API's paths, as the hosted Data API
(FastAPI) gives it: preflights answered here, and every answer (errors
included, written by errors.error_replies) carries the allow-origin header."""

from aiohttp import web

from plexus.gateway.errors import is_data_api

PREFLIGHT_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
PREFLIGHT_MAX_AGE = "600"


@web.middleware
async def data_api_edge(request, handler):
    if not is_data_api(request):
        return await handler(request)
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS" and origin and "Access-Control-Request-Method" in request.headers:
        headers = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": PREFLIGHT_METHODS,
                   "Access-Control-Max-Age": PREFLIGHT_MAX_AGE}
        asked = request.headers.get("Access-Control-Request-Headers")
        if asked:
            headers["Access-Control-Allow-Headers"] = asked
        return web.Response(status=200, text="OK", headers=headers)
    try:
        resp = await handler(request)
    except web.HTTPException as e:  # a redirect, or an error aiohttp raised itself
        if origin:
            e.headers["Access-Control-Allow-Origin"] = "*"
        raise
    if origin and not resp.prepared:
        resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp
