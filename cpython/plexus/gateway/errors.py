"""The gateway's one error path: handlers raise `ApiError(status, detail,
headers=None)` and the `error_replies` middleware writes the answer.

Under the Data API's paths the body is `{"detail": ...}`, as the hosted Data
API (FastAPI) writes it; elsewhere (`/ingest`, `/api/*`) it is
`{"error": ...}`, as the hosted device gateway writes it. A parameter or body
field of the wrong type is an `Invalid`: 422 with the fault listed.
"""

from aiohttp import web

from plexus.gateway.jsontext import json_response

DATA_API_PATHS = ("/v1/", "/health", "/openapi.json")
ROUTER_REASONS = {404: "Not Found", 405: "Method Not Allowed"}


def is_data_api(request):
    return request.path.startswith(DATA_API_PATHS)


class ApiError(Exception):
    """An error answer: `status`, the reason (`detail`) and extra headers."""

    def __init__(self, status, detail, headers=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self, request):
        body = {"detail" if is_data_api(request) else "error": self.detail}
        return json_response(body, status=self.status, headers=self.headers)


class Invalid(ApiError):
    """422 with the fault listed the way FastAPI lists it (`type`, `loc`,
    `msg`, `input`); str() is the message alone."""

    def __init__(self, where, name, kind, msg, value, **ctx):
        fault = {"type": kind, "loc": [where] if name is None else [where, name], "msg": msg, "input": value}
        if ctx:
            fault["ctx"] = ctx
        super().__init__(422, [fault])
        self.args = (msg,)


@web.middleware
async def error_replies(request, handler):
    try:
        return await handler(request)
    except ApiError as e:
        return e.response(request)
    except web.HTTPException as e:
        # The router's own 404/405 are plain text; the Data API answers them in its shape.
        if e.status in ROUTER_REASONS and e.content_type != "application/json" and is_data_api(request):
            allow = {"Allow": e.headers["Allow"]} if "Allow" in e.headers else None
            return ApiError(e.status, ROUTER_REASONS[e.status], allow).response(request)
        raise
