"""Every error answer goes through one path (plexus.gateway.errors): the
status, the body in the shape of the API it belongs to (`{"detail": ...}` on
the Data API, `{"error": ...}` on /ingest and /api/*) and its headers."""

import pytest

from support.raw import http, ingest

JSON = "application/json; charset=utf-8"
ORIGIN = {"Origin": "http://dash.example"}

# (method, path, body, key, status, answer); key names one made in `keys` below
CASES = [
    ("GET", "/v1/sources", None, None, 401, {"detail": "missing x-api-key header"}),
    ("GET", "/v1/sources", None, "bad", 401, {"detail": "invalid API key"}),
    ("GET", "/v1/sources/rig-2", None, "other", 403, {"detail": "API key is limited to another source"}),
    ("DELETE", "/v1/sources/rig-1/data", None, "ro", 403, {"detail": "API key lacks write scope"}),
    ("GET", "/v1/sources/never", None, "full", 404, {"detail": "source 'never' has never been seen"}),
    ("GET", "/v1/sources/rig-1/metrics/query?last=5x", None, "full", 400,
     {"detail": "last must be a whole number followed by m, h or d (e.g. 15m, 1h, 7d)"}),
    ("GET", "/v1/sources/rig-1/events?limit=-1", None, "full", 422,
     {"detail": [{"type": "greater_than_equal", "loc": ["query", "limit"],
                  "msg": "Input should be greater than or equal to 0", "input": "-1", "ctx": {"ge": 0}}]}),
    ("GET", "/v1/sources/rig-1/commands/abc", None, "full", 404, {"detail": "no such command"}),
    ("GET", "/v1/sources/rig-1/runs/abc", None, "full", 404, {"detail": "no such run"}),
    ("POST", "/v1/sources/rig-1/runs", {"command": "go", "ttl_s": -1}, "full", 400,
     {"detail": "ttl_s must be a number of seconds from 0 to 86400"}),
    ("GET", "/v1/nothing/here", None, "full", 404, {"detail": "Not Found"}),
    ("POST", "/ingest", {"points": []}, None, 401, {"error": "missing x-api-key header"}),
    ("POST", "/ingest", {"points": []}, "ro", 403, {"error": "API key lacks write scope"}),
    ("POST", "/ingest", [1], "full", 400, {"error": "body must be a JSON object"}),
    ("POST", "/ingest", {"source_id": "rig-9", "points": [{"metric": "m", "value": 1}]}, "other", 403,
     {"error": "API key is limited to another source than 'rig-9'"}),
    ("POST", "/api/runs", {}, "full", 400, {"error": "body needs a name"}),
    ("POST", "/api/runs", {"name": "r", "source_id": "rig-9"}, "other", 403, {"error": "source_id not allowed"}),
    ("POST", "/api/runs", {"name": "r", "started_at": "nope"}, "full", 400,
     {"error": "Input should be a valid datetime, such as 2026-11-25T10:00:00Z"}),
    ("PATCH", "/api/runs/abc", {"status": "completed"}, "full", 404, {"error": "NOT_FOUND: no such run"}),
    ("POST", "/api/sources", {}, None, 401, {"error": "missing x-api-key header"}),
]


@pytest.fixture
def keys(gateway):
    assert ingest(gateway, [{"metric": "m", "value": 1}], source_id="rig-1")[0] == 200
    return {"full": gateway.key, "ro": gateway.create_key("ro", "read"),
            "other": gateway.create_key("other", "write,read,commands", "elsewhere"), "bad": "plx_nope", None: None}


def test_each_error_is_answered_in_the_shape_of_its_api(gateway, keys):
    for method, path, body, key, status, answer in CASES:
        got, data, headers = http(gateway, method, path, body, key=keys[key])
        assert (got, data) == (status, answer), (method, path)
        assert headers["Content-Type"] == JSON, (method, path)


def test_error_answers_keep_their_headers(gateway, keys):
    # the Data API's CORS header rides on errors too
    status, _, h = http(gateway, "GET", "/v1/sources/never", key=keys["full"], headers=ORIGIN)
    assert status == 404 and h["Access-Control-Allow-Origin"] == "*"
    status, _, h = http(gateway, "GET", "/v1/nothing", key=keys["full"], headers=ORIGIN)
    assert status == 404 and h["Access-Control-Allow-Origin"] == "*"
    # the router's 405 keeps its Allow header
    status, body, h = http(gateway, "DELETE", "/v1/sources", key=keys["full"])
    assert (status, body, h["Allow"]) == (405, {"detail": "Method Not Allowed"}, "GET,HEAD")
    # /ingest's own CORS headers are on its refusals as on its successes
    status, _, h = http(gateway, "POST", "/ingest", {"points": 3}, key=keys["full"], headers=ORIGIN)
    assert status == 400 and h["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    # outside both APIs aiohttp's own answer is left alone
    status, body, h = http(gateway, "GET", "/nothing.html")
    assert (status, body) == (404, "404: Not Found") and h["Content-Type"].startswith("text/plain")
