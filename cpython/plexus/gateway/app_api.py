"""The app API calls the SDK makes besides telemetry (docs/protocol.md §9): test
runs (`POST /api/runs`, `PATCH /api/runs/{id}`) and source registration.

A run is a named time window on one source (or the whole org). When it ends,
each pass criterion is checked against the readings stored in the window: it
passes when the metric has readings there and every one satisfies it.
"""

import operator
import uuid

from aiohttp import web

from plexus.gateway.data_api import parse_time
from plexus.gateway.errors import ApiError, Invalid
from plexus.gateway.jsontext import json_response
from plexus.gateway.state import STATE, require_key
from plexus_core.source_id import source_id_error

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq,
       "!=": operator.ne}


def _criteria(body):
    crit = body.get("pass_criteria") or []
    if not isinstance(crit, list):
        raise ApiError(400, "pass_criteria must be a list")
    for c in crit:
        if (not isinstance(c, dict) or not isinstance(c.get("metric"), str) or c.get("operator") not in OPS
                or type(c.get("value")) not in (int, float)):
            raise ApiError(400, "each pass criterion needs metric, operator (one of %s) and a numeric value"
                           % " ".join(OPS))
    return crit


async def create_run(request):
    key = await require_key(request, "write")
    st = request.app[STATE]
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
        raise ApiError(400, "body needs a name")
    sid = body.get("source_id")
    if sid is not None and (source_id_error(sid, allow_uuid=True) or not key.may_use(sid)):
        raise ApiError(403 if not source_id_error(sid, allow_uuid=True) else 400, "source_id not allowed")
    try:
        started = parse_time("started_at", body.get("started_at") or "")
        _criteria(body)
    except Invalid as e:  # a 422 on the Data API; this API answers 400
        raise ApiError(400, str(e)) from None
    run = {"id": uuid.uuid4().hex, "name": body["name"], "source_id": sid, "status": "running",
           "started_at": body["started_at"], "started_ms": started, "tags": body.get("tags") or {},
           "metadata": body.get("metadata") or {}, "pass_criteria": body.get("pass_criteria") or []}
    await st.store.put_test_run(run)
    return json_response({"run": run}, status=201)


async def end_run(request):
    await require_key(request, "write")
    st = request.app[STATE]
    run = await st.store.get_test_run(request.match_info["run_id"])
    if run is None:
        raise ApiError(404, "NOT_FOUND: no such run")
    try:
        body = await request.json()
        if body.get("status") not in ("completed", "aborted"):
            raise ApiError(400, "status must be completed or aborted")
        ended = parse_time("ended_at", body.get("ended_at") or "")
    except (ValueError, AttributeError, Invalid) as e:
        raise ApiError(400, str(e)) from None
    run.update(status=body["status"], ended_at=body["ended_at"], ended_ms=ended)
    await _judge(st.store, run)
    await st.store.put_test_run(run)
    return json_response({"run": run})


async def _judge(store, run):
    """Each pass criterion against the readings stored in the run's window."""
    results = []
    for c in run["pass_criteria"]:
        vals = await store.metric_values(run["source_id"], c["metric"], run["started_ms"], run["ended_ms"])
        ok = bool(vals) and all(OPS[c["operator"]](v, c["value"]) for v in vals)
        results.append(dict(c, passed=ok, readings=len(vals)))
    run["test_result"] = {"passed": all(r["passed"] for r in results), "criteria_results": results}


async def get_run(request):
    """A run; an ended run is judged again, since readings from its window
    may have arrived after it was closed (a device's last batch, a backlog)."""
    await require_key(request, "read")
    store = request.app[STATE].store
    run = await store.get_test_run(request.match_info["run_id"])
    if run is None:
        raise ApiError(404, "NOT_FOUND: no such run")
    if run.get("ended_ms") is not None:
        await _judge(store, run)
    return json_response({"run": run})


async def register_source(request):
    """Sources appear when they first send; registering is accepted as a no-op."""
    await require_key(request, "write")
    return json_response({"ok": True}, status=201)


def routes():
    return [
        web.post("/api/runs", create_run),
        web.patch("/api/runs/{run_id}", end_run),
        web.get("/api/runs/{run_id}", get_run),
        web.post("/api/sources", register_source),
    ]
