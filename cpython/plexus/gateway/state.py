"""What every request handler of one gateway shares."""

from aiohttp import web

from plexus.gateway.backpressure import Intake
from plexus.gateway.errors import ApiError
from plexus.gateway.metrics import Counters
from plexus.gateway.profile import DEFAULT


class GatewayState:
    def __init__(self, store, hub, limits, commands, profile=DEFAULT, intake=None):
        self.store = store
        self.hub = hub
        self.limits = limits
        self.commands = commands
        self.profile = profile
        self.intake = intake or Intake()  # the bounded queue in front of the store writer
        self.counters = Counters()        # for /metrics


STATE = web.AppKey("plexus_gateway", GatewayState)


async def require_key(request, scope):
    """The request's key if it may use `scope`, else raises a 401/403 ApiError."""
    st = request.app[STATE]
    presented = request.headers.get("x-api-key")
    if not presented:
        raise ApiError(401, "missing x-api-key header")
    key = await st.store.key(presented)
    if key is None:
        raise ApiError(401, "invalid API key")
    if not key.can(scope):
        raise ApiError(403, "API key lacks %s scope" % scope)
    return key


async def require_source(request, scope):
    """(key, source_id of the path) if the key has `scope` and may use that source; else 401/403."""
    key = await require_key(request, scope)
    sid = request.match_info["source_id"]
    if not key.may_use(sid):
        raise ApiError(403, "API key is limited to another source")
    return key, sid
