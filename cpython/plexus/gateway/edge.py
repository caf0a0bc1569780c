"""What every Data API answer gets on its way out, as the hosted Data API
(FastAPI) gives it: CORS for any origin, and errors as `{"detail": ...}`.

Handlers raise `Problem(text, status)`; a parameter or body rejected by its
type is an `Invalid`, answered 422 with the fault listed. The key checks
shared with `/ingest` answer in the device gateway's `{"error": text}` shape;
under the Data API's paths that body is rewritten here, in one place.
"""

import json

from aiohttp import web

from plexus.gateway.jsontext import json_response

DATA_API_PATHS = ("/v1/", "/health", "/openapi.json")
PREFLIGHT_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
PREFLIGHT_MAX_AGE = "600"


def problem(status, text):
    """An error answer: `{"detail": text}`."""
    return json_response({"detail": text}, status=status)


class Problem(Exception):
    """Raised by a handler: answered `{"detail": text}` with `status`."""

    status = 400

    def __init__(self, text, status=None):
        super().__init__(text)
        if status is not None:
            self.status = status

    def response(self):
        return problem(self.status, str(self))


class BadRequest(Problem):
    status = 400


class Invalid(BadRequest):
    """A parameter or body field of the wrong type: 422 with the fault listed
    the way FastAPI lists it (`type`, `loc`, `msg`, `input`)."""

    status = 422

    def __init__(self, where, name, kind, msg, value, **ctx):
        super().__init__(msg)
        self.fault = {"type": kind, "loc": [where] if name is None else [where, name], "msg": msg,
                      "input": value}
        if ctx:
            self.fault["ctx"] = ctx

    def response(self):
        return json_response({"detail": [self.fault]}, status=422)


def _is_data_api(request):
    return request.path.startswith(DATA_API_PATHS)


def _reshaped(resp):
    """A router or gateway-shaped error as the Data API writes it; anything else as it is."""
    if not isinstance(resp, web.Response) or resp.prepared or resp.status < 400:
        return resp
    if resp.content_type != "application/json":
        if resp.status in (404, 405):
            out = problem(resp.status, "Not Found" if resp.status == 404 else "Method Not Allowed")
            if "Allow" in resp.headers:
                out.headers["Allow"] = resp.headers["Allow"]
            return out
        return resp
    try:
        body = json.loads(resp.text)
    except (TypeError, ValueError):
        return resp
    if isinstance(body, dict) and set(body) == {"error"}:
        return problem(resp.status, body["error"])
    return resp


@web.middleware
async def data_api_edge(request, handler):
    if not _is_data_api(request):
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
        try:
            resp = await handler(request)
        except Problem as p:
            resp = p.response()
        resp = _reshaped(resp)
    except web.HTTPException as e:
        resp = _reshaped(e)
        if resp is e:
            if origin:
                e.headers["Access-Control-Allow-Origin"] = "*"
            raise
    if origin and not resp.prepared:
        resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp
