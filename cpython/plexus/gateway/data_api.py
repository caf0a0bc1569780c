"""The Data API (docs/protocol.md §8): sources, metrics, queries, events, fleet."""

from datetime import datetime, timezone

from aiohttp import web

from plexus.gateway.state import STATE, error, require_key, require_source
from plexus.gateway.store import MAX_ROWS, now_ms

UNIT_MS = {"m": 60000, "h": 3600000, "d": 86400000}
INTERVAL_MS = {"1m": 60000, "10m": 600000, "1h": 3600000, "1d": 86400000}


class BadRequest(Exception):
    pass


def parse_last(text):
    if len(text) < 2 or text[-1] not in UNIT_MS or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise BadRequest("last must be a positive whole number followed by m, h or d (e.g. 15m, 1h, 7d)")
    return int(text[:-1]) * UNIT_MS[text[-1]]


def parse_time(name, text):
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("%s must be an ISO 8601 time such as 2026-11-25T10:00:00Z" % name) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp() * 1000)


def window(q):
    """(start_ms, end_ms) from `last`, or `start` and `end`; the last hour by default."""
    end = now_ms()
    if q.get("last"):
        return end - parse_last(q["last"]), end
    if q.get("start") or q.get("end"):
        if not (q.get("start") and q.get("end")):
            raise BadRequest("give both start and end, or neither")
        start, end = parse_time("start", q["start"]), parse_time("end", q["end"])
        if start > end:
            raise BadRequest("start must not be after end")
        return start, end
    return end - 3600000, end


def auto_interval(span_ms):
    if span_ms < 600000:
        return "raw"
    if span_ms < 36000000:
        return "1m"
    if span_ms < 3 * 86400000:
        return "10m"
    if span_ms < 15 * 86400000:
        return "1h"
    return "1d"


def _int(q, name, default, top):
    v = q.get(name)
    if v is None:
        return default
    if not v.isdigit() or not 0 < int(v) <= top:
        raise BadRequest("%s must be a whole number from 1 to %d" % (name, top))
    return int(v)


async def _readable_source(request):
    _, sid = await require_source(request, "read")
    return request.app[STATE], sid


def _source_json(st, src):
    return {"source_id": src["source_id"], "online": st.hub.online(src["source_id"]),
            "last_seen_ms": src["last_seen_ms"]}


async def sources(request):
    key = await require_key(request, "read")
    st = request.app[STATE]
    status = request.query.get("status")
    if status not in (None, "online", "offline"):
        return error(400, "status must be online or offline")
    out = []
    for src in await st.store.sources():
        if not key.may_use(src["source_id"]):
            continue
        s = _source_json(st, src)
        if status is None or s["online"] == (status == "online"):
            out.append(s)
    return web.json_response({"devices": out})


async def source(request):
    st, sid = await _readable_source(request)
    src = await st.store.source(sid)
    if src is None:
        if not st.hub.online(sid):
            return error(404, "source %r has never been seen" % sid)
        src = {"source_id": sid, "last_seen_ms": None, "commands": [], "cameras": []}
    out = _source_json(st, src)
    conn = st.hub.device(sid)
    out["commands"] = conn.commands if conn is not None else src["commands"]
    out["cameras"] = st.hub.cameras.get(sid) or src["cameras"]
    return web.json_response(out)


async def metrics(request):
    st, sid = await _readable_source(request)
    return web.json_response(await st.store.metric_names(sid))


async def latest(request):
    st, sid = await _readable_source(request)
    return web.json_response({"metrics": await st.store.latest(sid)})


async def query(request):
    st, sid = await _readable_source(request)
    q = request.query
    try:
        start, end = window(q)
        interval = q.get("interval")
        if interval is not None and interval != "raw" and interval not in INTERVAL_MS:
            raise BadRequest("interval must be raw, 1m, 10m, 1h or 1d")
    except BadRequest as e:
        return error(400, str(e))
    chosen = interval or auto_interval(end - start)
    names = [m for m in q.get("metrics", "").split(",") if m]
    if chosen == "raw":
        series, truncated = await st.store.raw(sid, names, start, end)
    else:
        series, truncated = await st.store.aggregated(sid, names, start, end, INTERVAL_MS[chosen])
    return web.json_response({"interval": chosen, "auto_downsampled": interval is None and chosen != "raw",
                              "series": series, "truncated": truncated})


async def events(request):
    st, sid = await _readable_source(request)
    q = request.query
    try:
        tail = _int(q, "tail", None, MAX_ROWS)
        limit = _int(q, "limit", 1000, MAX_ROWS)
        if tail is not None and not (q.get("last") or q.get("start")):
            start, end = 0, now_ms() + 86400000 * 365
        else:
            start, end = window(q)
    except BadRequest as e:
        return error(400, str(e))
    rows = await st.store.events(sid, start, end, q.get("name"), tail or limit, newest=tail is not None)
    return web.json_response(rows)


async def fleet_health(request):
    key = await require_key(request, "read")
    st = request.app[STATE]
    mine = [s for s in await st.store.sources() if key.may_use(s["source_id"])]
    return web.json_response({"sources_total": len(mine),
                              "sources_online": sum(1 for s in mine if st.hub.online(s["source_id"]))})


async def fleet_metrics(request):
    key = await require_key(request, "read")
    st = request.app[STATE]
    q = request.query
    metric = q.get("metric")
    if not metric:
        return error(400, "metric is required, e.g. /v1/fleet/metrics?metric=cpu.temp")
    try:
        start, end = window(q)
    except BadRequest as e:
        return error(400, str(e))
    interval = q.get("interval") or auto_interval(end - start)
    if interval == "raw":
        interval = "1m"
    known = [s["source_id"] for s in await st.store.sources() if key.may_use(s["source_id"])]
    rows = [r for r in await st.store.fleet_metric(metric, start, end) if key.may_use(r["source_id"])]
    for r in rows:
        r["online"] = st.hub.online(r["source_id"])
    return web.json_response({"metric": metric, "interval": interval,
                              "sources_online": sum(1 for s in known if st.hub.online(s)),
                              "sources_w_metric": len(rows), "sources": rows, "truncated": False})


async def devices_alias(request):
    """`/v1/devices/*` is the deprecated name of `/v1/sources/*`."""
    raise web.HTTPPermanentRedirect("/v1/sources" + request.match_info["rest"] + (
        "?" + request.query_string if request.query_string else ""))


def routes():
    return [
        web.get("/v1/sources", sources),
        web.get("/v1/sources/{source_id}", source),
        web.get("/v1/sources/{source_id}/metrics", metrics),
        web.get("/v1/sources/{source_id}/metrics/latest", latest),
        web.get("/v1/sources/{source_id}/metrics/query", query),
        web.get("/v1/sources/{source_id}/events", events),
        web.get("/v1/sources/{source_id}/logs", events),
        web.get("/v1/fleet/health", fleet_health),
        web.get("/v1/fleet/metrics", fleet_metrics),
        web.get("/v1/devices{rest:.*}", devices_alias),
    ]
