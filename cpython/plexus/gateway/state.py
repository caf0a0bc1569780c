"""What every request handler of one gateway shares."""

from aiohttp import web

from plexus.gateway.profile import DEFAULT


class GatewayState:
    def __init__(self, store, hub, limits, commands, profile=DEFAULT):
        self.store = store
        self.hub = hub
        self.limits = limits
        self.commands = commands
        self.profile = profile


STATE = web.AppKey("plexus_gateway", GatewayState)


def error(status, text):
    """A JSON error response ({"error": text}), as the hosted gateway answers."""
    return web.json_response({"error": text}, status=status)


async def require_key(request, scope):
    """The request's key if it may use `scope`, else raises a 401/403 response."""
    st = request.app[STATE]
    presented = request.headers.get("x-api-key")
    if not presented:
        raise web.HTTPUnauthorized(text='{"error": "missing x-api-key header"}', content_type="application/json")
    key = await st.store.key(presented)
    if key is None:
        raise web.HTTPUnauthorized(text='{"error": "invalid API key"}', content_type="application/json")
    if not key.can(scope):
        raise web.HTTPForbidden(text='{"error": "API key lacks %s scope"}' % scope, content_type="application/json")
    return key


async def require_source(request, scope):
    """(key, source_id of the path) if the key has `scope` and may use that source; else 401/403."""
    key = await require_key(request, scope)
    sid = request.match_info["source_id"]
    if not key.may_use(sid):
        raise web.HTTPForbidden(text='{"error": "API key is limited to another source"}',
                                content_type="application/json")
    return key, sid
