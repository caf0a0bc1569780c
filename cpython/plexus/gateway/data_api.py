"""The Data API: sources, metrics, queries, events, fleet, in the hosted
Data API's shapes (docs/api.md)."""

from datetime import datetime, timezone

from aiohttp import web

from plexus.gateway.errors import ApiError, Invalid
from plexus.gateway.jsontext import dumps, json_response
from plexus.gateway.state import STATE, require_key, require_source
from plexus.gateway.store import MAX_ROWS, now_ms

UNIT_MS = {"m": 60000, "h": 3600000, "d": 86400000}
INTERVAL_MS = {"1m": 60000, "10m": 600000, "1h": 3600000, "1d": 86400000}
FLEET_MAX_BUCKETS = MAX_ROWS  # across sources, as the hosted API caps them
TIME_BOUND_MS = 2 ** 62       # window ends are clamped to what SQLite's integers hold

EARLIEST, LATEST = -(1 << 63), (1 << 63) - 1  # every timestamp a store holds (64-bit ms)


def parse_last(text):
    if len(text) < 2 or text[-1] not in UNIT_MS or not (text[:-1].isascii() and text[:-1].isdigit()):
        raise ApiError(400, "last must be a whole number followed by m, h or d (e.g. 15m, 1h, 7d)")
    return int(text[:-1]) * UNIT_MS[text[-1]]


def parse_time(name, text):
    """Epoch ms of an ISO 8601 time (UTC when it names no zone) or of a Unix
    time in seconds (milliseconds past 2e10), the times the hosted API takes."""
    try:
        n = float(text)
    except ValueError:
        pass
    else:
        if n == n and abs(n) != float("inf"):
            return int(max(-TIME_BOUND_MS, min(TIME_BOUND_MS, n if abs(n) > 2e10 else n * 1000)))
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("query", name, "datetime_parsing", "Input should be a valid datetime, such as "
                      "2026-11-25T10:00:00Z", text) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp() * 1000)


def window(q):
    """(start_ms, end_ms) from `last`, or `start` and `end`; the last hour by default."""
    start = parse_time("start", q["start"]) if "start" in q else None  # typed first, as FastAPI does
    end = parse_time("end", q["end"]) if "end" in q else None
    now = now_ms()
    if "last" in q:
        return now - parse_last(q["last"]), now
    if start is None and end is None:
        return now - 3600000, now
    if start is None or end is None:
        raise ApiError(400, "give both start and end, or neither")
    if start > end:
        raise ApiError(400, "start must not be after end")
    return start, end


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


def _int(q, name, default, top=MAX_ROWS):
    text = q.get(name)
    if text is None:
        return default
    t = text.strip()
    digits = t[1:] if t[:1] in ("+", "-") else t
    if not (digits.isascii() and digits.isdigit()):
        raise Invalid("query", name, "int_parsing", "Input should be a valid integer, unable to parse string "
                      "as an integer", text)
    v = int(t)
    if v > top:
        raise Invalid("query", name, "less_than_equal", "Input should be less than or equal to %d" % top, text,
                      le=top)
    if v < 0:
        raise Invalid("query", name, "greater_than_equal", "Input should be greater than or equal to 0", text,
                      ge=0)
    return v


async def known_source(request, scope="read"):
    """(state, source_id, stored source or None) for a source the key may use
    that is online or was ever seen; else 401/403, or 404."""
    _, sid = await require_source(request, scope)
    st = request.app[STATE]
    src = await st.store.source(sid)
    if src is None and not st.hub.online(sid) and not st.hub.held_elsewhere(sid):  # (another replica's device)
        raise ApiError(404, "source %r has never been seen" % sid)
    return st, sid, src


def _source_json(st, src):
    return {"source_id": src["source_id"], "online": st.hub.online(src["source_id"]),
            "last_seen_ms": src["last_seen_ms"]}


async def sources(request):
    key = await require_key(request, "read")
    st = request.app[STATE]
    status = request.query.get("status")
    if status not in (None, "online", "offline"):
        raise Invalid("query", "status", "literal_error", "Input should be 'online' or 'offline'", status,
                      expected="'online' or 'offline'")
    out = []
    for src in await st.store.sources():
        if not key.may_use(src["source_id"]):
            continue
        s = _source_json(st, src)
        if status is None or s["online"] == (status == "online"):
            out.append(s)
    return json_response({"devices": out})


async def source(request):
    st, sid, src = await known_source(request)
    if src is None:
        src = {"source_id": sid, "last_seen_ms": None, "commands": [], "cameras": []}
    out = _source_json(st, src)
    conn = st.hub.device(sid)
    out["commands"] = conn.commands if conn is not None else src["commands"]
    live = [c["camera_id"] for c in conn.cameras] if conn is not None else []
    out["cameras"] = live + [c for c in src["cameras"] if c not in live]
    return json_response(out)


async def metrics(request):
    st, sid, _ = await known_source(request)
    return json_response(await st.store.metric_names(sid))


async def latest(request):
    st, sid, _ = await known_source(request)
    return json_response({"metrics": await st.store.latest(sid)})


async def query(request):
    st, sid, _ = await known_source(request)
    q = request.query
    start, end = window(q)
    interval = q.get("interval")
    if interval is not None and interval != "raw" and interval not in INTERVAL_MS:
        raise ApiError(400, "interval must be raw, 1m, 10m, 1h or 1d")
    chosen = interval or auto_interval(end - start)
    names = [m.strip() for m in q.get("metrics", "").split(",") if m.strip()]
    if chosen == "raw":
        series, truncated = await st.store.raw(sid, names, start, end)
    else:
        series, truncated = await st.store.aggregated(sid, names, start, end, INTERVAL_MS[chosen])
    return json_response({"interval": chosen, "auto_downsampled": interval is None and chosen != "raw",
                          "series": series, "truncated": truncated})


def _log_event(row):
    """A stored event as the hosted API lists it: `value` is text, JSON text
    for anything but a string."""
    v = row["value"]
    return dict(row, value=v if isinstance(v, str) else dumps(v))


async def events(request):
    st, sid, _ = await known_source(request)
    q = request.query
    tail = _int(q, "tail", None)
    limit = _int(q, "limit", 1000)
    name = q.get("name") or None
    if tail is not None:  # the newest N whatever their age: the window is not read
        rows = await st.store.events(sid, EARLIEST, LATEST, name, tail, newest=True) if tail else []
    else:
        start, end = window(q)
        rows = await st.store.events(sid, start, end, name, limit) if limit else []
    return json_response([_log_event(r) for r in rows])


async def fleet_health(request):
    key = await require_key(request, "read")
    st = request.app[STATE]
    mine = [s for s in await st.store.sources() if key.may_use(s["source_id"])]
    return json_response({"sources_total": len(mine),
                          "sources_online": sum(1 for s in mine if st.hub.online(s["source_id"]))})


async def fleet_metrics(request):
    """Per source, per bucket: the interval is chosen from the window (raw
    becomes 1m), as the hosted API does."""
    key = await require_key(request, "read")
    st = request.app[STATE]
    q = request.query
    metric = q.get("metric")
    if metric is None:
        raise Invalid("query", "metric", "missing", "Field required (e.g. /v1/fleet/metrics?metric=cpu.temp)",
                      None)
    start, end = window(q)
    interval = auto_interval(end - start)
    if interval == "raw":
        interval = "1m"
    known = [s["source_id"] for s in await st.store.sources() if key.may_use(s["source_id"])]
    series, truncated = await st.store.fleet_metric(metric, start, end, INTERVAL_MS[interval], FLEET_MAX_BUCKETS)
    rows = [dict(s, online=st.hub.online(s["source_id"])) for s in series if key.may_use(s["source_id"])]
    return json_response({"metric": metric, "interval": interval,
                          "sources_online": sum(1 for s in known if st.hub.online(s)),
                          "sources_w_metric": len(rows), "sources": rows, "truncated": truncated})


async def devices_alias(request):
    """`/v1/devices/*` is the deprecated name of `/v1/sources/*`: 308 keeps
    the method and body of every request."""
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
        web.route("*", "/v1/devices{rest:(/.*)?}", devices_alias),
    ]
