"""`POST /ingest`: HTTP telemetry (PROTOCOL.md §2.2), checked in the hosted
gateway's order so clients see the same status codes."""

import json
import zlib

from aiohttp import web

from plexus.gateway.state import STATE, error, require_key
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
    resp = await _ingest(request)
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
    try:
        key = await require_key(request, "write")
    except web.HTTPException as e:
        return error(e.status, json.loads(e.text)["error"])
    if (request.content_length or 0) > limits.HTTP_BODY_LIMIT:
        return error(413, TOO_BIG)
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, TOO_BIG)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            data = _gunzip(data)
        except zlib.error:
            return error(400, "invalid gzip body")
        if data is None:
            return error(413, TOO_BIG)
    try:
        body = json.loads(data)
    except ValueError as e:
        return error(400, "invalid JSON: %s" % e)
    if not isinstance(body, dict):
        return error(400, "body must be a JSON object")
    points = body.get("points")
    if points is None:
        return error(400, "'points' array is required")
    if not isinstance(points, list):
        return error(400, "'points' must be an array")
    if not points:
        return web.json_response({"success": True, "count": 0})
    if len(points) > limits.MAX_POINTS_PER_BATCH:
        return error(400, "%d points; the limit is %d per request" % (len(points), limits.MAX_POINTS_PER_BATCH))
    groups, problem = _group(body, points)
    if problem:
        return error(400, problem)
    for sid in groups:
        if not key.may_use(sid):
            return error(403, "API key is limited to another source than %r" % sid)
    batch_id = body.get("batch_id") if st.profile.batch_dedup else None
    if batch_id is not None and (len(groups) != 1 or not isinstance(batch_id, str) or not 0 < len(batch_id) <= 128):
        return error(400, "batch_id must be a string of 1 to 128 characters, for one source per request")
    count = dropped = 0
    for sid, pts in groups.items():
        st.hub.http_seen[sid] = now_ms()
        if not st.limits.source_allows(sid):  # over the source's ceiling: the group is skipped
            dropped += len(pts)
            continue
        try:
            stored = await st.store.store_batch(sid, batch_id, pts)
        except Exception as e:
            if store_unavailable(e):
                return error(502, "failed to queue telemetry")
            return error(400, "the gateway could not store these points: %s" % e)
        if stored is not None:
            st.hub.publish_points(sid, pts)
        count += len(pts)
    out = {"success": True, "count": count}
    if dropped and not st.profile.silent_source_limit:  # the hosted answer only has the lower count
        out["dropped"] = dropped
    if len(groups) == 1:
        out["source_id"] = next(iter(groups))
    return web.json_response(out)


def _group(body, points):
    """Points grouped by source (a point's own source_id wins), or an error."""
    envelope = body.get("source_id")
    now = now_ms()
    groups = {}
    for i, p in enumerate(points):
        if not isinstance(p, dict):
            return None, "points[%d] must be an object" % i
        sid = p.get("source_id", envelope)
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
