"""Every Data API answer of a real gateway, checked against the hosted Data
API's OpenAPI document (shared/spec/hosted-openapi.json): a fixed catalogue
of requests, then generated parameters (bounded: a fixed number of examples).

Routes the hosted document does not have (our extensions, marked
`x-plexus-extension` in the gateway's own /openapi.json) are checked against
the gateway's own document instead."""

import time
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.gateway import Gateway
from support.openapi import check_answer, hosted_document, operation, our_document
from support.raw import device, http, ingest, next_of

HOSTED = hosted_document()
OURS = our_document()
SEEN = set()  # (document, path template, status) checked, for the coverage assertion


def call(gw, method, path, body=None, key=None, raw=None):
    status, data, _ = http(gw, method, path, body, key=gw.key if key is None else key, raw=raw)
    p = urllib.parse.urlsplit(path).path
    hosted = check_answer(HOSTED, method, p, status, data) if _in(HOSTED, method, p) else None
    if hosted is None:
        SEEN.add(("ours", check_answer(OURS, method, p, status, data), status))
    else:
        SEEN.add(("hosted", hosted, status))
    return status, data


def _in(doc, method, path):
    return operation(doc, method, path)[0] is not None


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    g = Gateway(tmp_path_factory.mktemp("hosted-openapi"), rate_limits=False).start()
    now = int(time.time() * 1000)
    pts = [{"metric": "temp", "value": 20.5 + i, "timestamp": now - 3 * 3600000 + i * 60000} for i in range(200)]
    pts += [{"metric": "rpm", "value": 1000 + i, "timestamp": now - 30000 + i} for i in range(20)]
    for i, v in enumerate(["boot", {"level": "warn", "msg": "hot"}, [1, 2], 3.5, True]):
        pts.append({"class": "event", "metric": "log", "value": v, "timestamp": now - 5000 + i, "tags": {"k": "v"}})
    assert ingest(g, pts, source_id="pump-07")[0] == 200
    assert ingest(g, [{"metric": "temp", "value": 7, "timestamp": now - 1000}], source_id="pump-08")[0] == 200
    ws, auth = device(g, "rig-live", commands=[{"name": "set_speed", "params": {}}])
    assert auth["type"] == "authenticated"
    g.device_ws = ws
    yield g
    ws.close()
    g.stop()


SOURCE_ROUTES = ["", "/metrics", "/metrics/latest", "/metrics/query", "/logs", "/events"]
QUERIES = ["", "last=5m", "last=1h&interval=1m", "last=2d", "last=30d", "interval=raw", "interval=10m&last=6h",
           "metrics=temp,rpm&last=4h", "start=2026-01-01T00:00:00Z&end=2030-01-01T00:00:00Z", "last=bad",
           "start=soon&end=later", "start=2026-01-01T00:00:00Z", "interval=2m", "tail=3", "tail=0", "limit=2",
           "name=log&last=1h", "tail=many", "limit=10001", "tail=-1", "status=online", "status=offline",
           "status=maybe", "metric=temp", "metric=temp&last=7d", "metric=none", "last=0m"]


def test_every_hosted_route_answers_as_the_hosted_document_says(gw):
    SEEN.clear()
    for sid in ("pump-07", "pump-08", "rig-live", "nobody"):
        for rest in SOURCE_ROUTES:
            for q in QUERIES:
                call(gw, "GET", "/v1/sources/%s%s?%s" % (sid, rest, q))
    for q in QUERIES:
        for path in ("/v1/sources", "/v1/fleet/health", "/v1/fleet/metrics"):
            call(gw, "GET", path + "?" + q)
    assert call(gw, "GET", "/health") == (200, {"status": "ok"})

    assert call(gw, "POST", "/v1/sources/rig-live/commands", {"command": "blink", "params": {"n": 1}})[1]["queued"]
    assert call(gw, "POST", "/v1/sources/pump-07/commands", {"command": "blink"}) == (200, {"queued": False})
    for bad in ({}, {"command": 5}, {"command": "x", "params": []}, [1]):
        assert call(gw, "POST", "/v1/sources/rig-live/commands", bad)[0] == 422
    assert call(gw, "POST", "/v1/sources/rig-live/commands", raw=b"{nope")[0] == 422

    reader = gw.create_key(scopes="read", source="pump-08")
    for path in ["/v1/sources", "/v1/fleet/health", "/v1/fleet/metrics?metric=temp"] + \
            ["/v1/sources/pump-07" + r for r in SOURCE_ROUTES]:
        assert call(gw, "GET", path, key="plx_nope")[0] == 401
        assert call(gw, "GET", path, key="")[0] == 401
        assert call(gw, "GET", path, key=reader)[0] in (200, 403)
    assert call(gw, "POST", "/v1/sources/pump-08/commands", {"command": "x"}, key=reader)[0] == 403

    # each operation of the hosted document was checked with each status it documents (422 only where a
    # query parameter or a body can have the wrong type: a path string and the key header cannot)
    wanted = {(t, code) for t, item in HOSTED["paths"].items() for op in item.values() for code in op["responses"]
              if code != "422" or "requestBody" in op or any(p["in"] == "query" for p in op["parameters"])}
    got = {(t, str(code)) for doc, t, code in SEEN if doc == "hosted"}
    assert wanted <= got, sorted(wanted - got)


def test_our_extensions_answer_as_our_document_says(gw):
    status, run = call(gw, "POST", "/v1/sources/rig-live/runs", {"command": "set_speed"})
    assert status == 201
    assert next_of(gw.device_ws, "command_run")["run_id"] == run["run_id"]
    assert call(gw, "GET", "/v1/sources/rig-live/runs/" + run["run_id"])[0] == 200
    assert call(gw, "POST", "/v1/sources/rig-live/runs", {"command": "set_speed", "ttl_s": -1})[0] == 400
    assert call(gw, "POST", "/v1/sources/rig-live/runs", {"params": {}})[0] == 422
    assert call(gw, "GET", "/v1/sources/rig-live/runs/nope")[0] == 404
    assert call(gw, "GET", "/v1/sources/rig-live/commands/nope")[0] == 404
    status, sent = call(gw, "POST", "/v1/sources/rig-live/commands", {"command": "blink"})
    assert call(gw, "GET", "/v1/sources/rig-live/commands/" + sent["id"])[0] == 200
    assert call(gw, "GET", "/v1/sources/pump-07/events?tail=2")[0] == 200
    assert call(gw, "POST", "/ingest", {"source_id": "pump-09", "points": [{"metric": "a", "value": 1}]})[0] == 200
    assert call(gw, "POST", "/ingest", {"source_id": "pump-09", "points": [{"metric": "a"}]})[0] == 400
    status, made = call(gw, "POST", "/api/runs", {"name": "soak", "started_at": "2026-01-01T00:00:00Z",
                                                  "source_id": "pump-07"})
    assert status == 201
    assert call(gw, "GET", "/api/runs/" + made["run"]["id"])[0] == 200
    assert call(gw, "PATCH", "/api/runs/" + made["run"]["id"],
                {"status": "completed", "ended_at": "2026-01-01T01:00:00Z"})[0] == 200
    assert call(gw, "GET", "/api/runs/nope")[0] == 404
    assert call(gw, "POST", "/api/sources", {"slug": "pump-07"})[0] == 201


PARAM = st.sampled_from(["metrics", "last", "start", "end", "interval", "tail", "limit", "name", "status", "metric"])
VALUE = st.sampled_from(["1h", "5m", "0d", "2026-11-25T10:00:00Z", "1764064800", "raw", "1m", "1d", "10", "0",
                         "10000", "online", "temp", "log", "", "-3", "x"]) | st.text(max_size=12)
PATH = st.sampled_from(["/v1/sources", "/v1/fleet/health", "/v1/fleet/metrics"] +
                       ["/v1/sources/%s%s" % (s, r) for s in ("pump-07", "nobody") for r in SOURCE_ROUTES])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATH, params=st.dictionaries(PARAM, VALUE, max_size=4))
def test_generated_parameters_answer_as_the_hosted_document_says(gw, path, params):
    status, _ = call(gw, "GET", path + ("?" + urllib.parse.urlencode(params) if params else ""))
    assert status in (200, 400, 404, 422), (path, params, status)
