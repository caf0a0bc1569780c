"""`POST /ingest`: HTTP telemetry (docs/protocol.md §2.2), checked in the hosted
gateway's order so clients see the same status codes."""

import zlib

from aiohttp import web

from plexus.gateway import jsonread
from plexus.gateway.errors import ApiError
from plexus.gateway.jsontext import json_response
from plexus.gateway.state import STATE, require_key
from plexus.gateway.storage import StoreUnavailable
from plexus.gateway.store import now_ms, store_unavailable
from plexus_core import limits
from plexus_core.source_id import source_id_error
from plexus_core.wire import check_wire_point

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, x-api-key", "Access-Control-Max-Age": "86400"}
TOO_BIG = "body exceeds %d bytes; send fewer points per request" % limits.HTTP_BODY_LIMIT


async def preflight(request):
    return web.Response(status=204, headers=CORS)


async def ingest(request):
    try:
        resp = await _ingest(request)
    except ApiError as e:
        e.headers.update(CORS)
        raise
    resp.headers.update(CORS)
    return resp


def _gunzip(data):
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = d.decompress(data, limits.HTTP_BODY_LIMIT + 1)
    if len(out) > limits.HTTP_BODY_LIMIT or d.unconsumed_tail:
        return None
    if not d.eof:
        raise zlib.error("truncated gzip stream")
    return out


async def _ingest(request):
    st = request.app[STATE]
    st.counters.ingest_requests += 1
    key = await require_key(request, "write")
    if st.intake.full:
        raise _behind(st)
    if (request.content_length or 0) > limits.HTTP_BODY_LIMIT:
        raise ApiError(413, TOO_BIG)
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, TOO_BIG) from None
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            data = _gunzip(data)
        except zlib.error:
            raise ApiError(400, "invalid gzip body") from None
        if data is None:
            raise ApiError(413, TOO_BIG)
    try:
        body = jsonread.loads(jsonread.decode(data)[0])
    except ValueError as e:
        raise ApiError(400, "invalid JSON: %s" % e) from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    points = body.get("points")
    if points is None:
        raise ApiError(400, "'points' array is required")
    if not isinstance(points, list):
        raise ApiError(400, "'points' must be an array")
    if not points:
        return json_response({"success": True, "count": 0})
    if len(points) > limits.MAX_POINTS_PER_BATCH:
        raise ApiError(400, "%d points; the limit is %d per request" % (len(points), limits.MAX_POINTS_PER_BATCH))
    groups, problem = _group(body, points)
    if problem:
        raise ApiError(400, problem)
    for sid in groups:
        if not key.may_use(sid):
            raise ApiError(403, "API key is limited to another source than %r" % sid)
    batch_id = body.get("batch_id") if st.profile.batch_dedup else None
    if batch_id is not None and (len(groups) != 1 or not isinstance(batch_id, str) or not 0 < len(batch_id) <= 128):
        raise ApiError(400, "batch_id must be a string of 1 to 128 characters, for one source per request")
    count = dropped = 0
    for sid, pts in groups.items():
        st.hub.http_seen[sid] = now_ms()
        if not st.limits.source_allows(sid):  # over the source's ceiling: the group is skipped
            dropped += len(pts)
            continue
        try:
            stored = await st.intake.track(st.store.store_batch(sid, batch_id, pts), len(pts))
        except StoreUnavailable:
            raise  # the database server is gone: 503 (app.py), the client retries
        except Exception as e:
            if store_unavailable(e):
                raise ApiError(502, "failed to queue telemetry") from None
            raise ApiError(400, "the gateway could not store these points: %s" % e) from None
        if stored is not None:
            st.hub.publish_points(sid, pts)
        count += len(pts)
    out = {"success": True, "count": count}
    if dropped and not st.profile.silent_source_limit:  # the hosted answer only has the lower count
        out["dropped"] = dropped
    if len(groups) == 1:
        out["source_id"] = next(iter(groups))
    return json_response(out)


def _behind(st):
    """503 + Retry-After: the store's queue is full; nothing of this request was read or stored."""
    st.intake.refuse_http()
    wait = st.intake.retry_after_s()
    return ApiError(503, "the gateway is behind (%d points queued for its store); retry after %d s"
                    % (st.intake.points, wait), {"Retry-After": str(wait)})


def _group(body, points):
    """Points grouped by source (a point's own source_id wins), or an error."""
    envelope = body.get("source_id")
    now = now_ms()
    groups = {}
    for i, p in enumerate(points):
        if not isinstance(p, dict):
            return None, "points[%d] must be an object" % i
        sid = p.get("source_id")
        if not isinstance(sid, str) or not sid:  # "", null or not a string: the envelope's, as hosted
            sid = envelope
        err = source_id_error(sid, allow_uuid=True)
        if err:
            return None, "points[%d]: %s" % (i, err)
        try:
            q = check_wire_point(p, rescale_seconds=True)
        except ValueError as e:
            return None, "points[%d]: %s" % (i, e)
        if q["timestamp"] is None:
            q["timestamp"] = now
        groups.setdefault(sid, []).append(q)
    return groups, None
