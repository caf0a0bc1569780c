"""Generated device frames, /ingest bodies, Data API parameters and live-stream
first frames against one real gateway: it never answers 500, never dies, and
never shows one key's data to another."""

import json
import urllib.parse

import websocket
from hypothesis import HealthCheck, given, settings, strategies as st

from support.raw import device, http, ingest, recv

settings.register_profile("gateway-fuzz", deadline=None, max_examples=80,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile("gateway-fuzz")

SECRET = 918273.5  # only source "secret-1" ever holds this value

leaf = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=300)
tree = st.recursive(leaf, lambda k: st.lists(k, max_size=4) | st.dictionaries(st.text(max_size=12), k, max_size=5),
                    max_leaves=30)
point_like = st.fixed_dictionaries({}, optional={"metric": tree, "value": tree, "timestamp": tree, "class": tree,
                                                 "tags": tree, "source_id": tree}) | tree
frames = st.fixed_dictionaries({"type": st.sampled_from(["telemetry", "heartbeat", "video_frame", "device_error",
                                                         "command_status", "command_result", "command_sync",
                                                         "pong", "nonsense"]) | tree},
                               optional={"seq": tree, "points": st.lists(point_like, max_size=5) | tree,
                                         "batch_id": tree, "sync": tree, "camera_id": tree, "frame": tree,
                                         "run_id": tree, "state": tree, "runs": tree, "id": tree, "error": tree})


def alive(gw):
    return http(gw, "GET", "/health")[0] == 200


def seed_secret(gw):
    if not gw.count("secret-1"):
        assert ingest(gw, [{"metric": "temp", "value": SECRET}, {"metric": "log", "value": {"s": SECRET}}],
                      source_id="secret-1")[0] == 200


@given(frame=frames | tree, raw=st.booleans())
def test_device_frames_never_break_the_gateway(shared_gateway, frame, raw):
    ws, reply = device(shared_gateway, "fuzz-dev")
    assert reply["type"] == "authenticated"
    ws.send(json.dumps(frame) if not raw else json.dumps(frame)[:-1])   # raw: truncated, not JSON
    ws.send(json.dumps({"type": "heartbeat", "source_id": "fuzz-dev", "agent_version": "x", "sync": 7}))
    while True:                       # the connection still works: the sync reply comes back
        f = recv(ws)
        assert f["type"] != "close" or f["code"] in (1008, 1009), f
        if f["type"] == "time" and f["sync"] == 7:
            break
        assert f["type"] in ("error", "telemetry_ack", "command_status_ack", "time"), f
    ws.close()
    assert alive(shared_gateway)


@given(body=st.fixed_dictionaries({}, optional={"source_id": tree, "points": st.lists(point_like, max_size=5) | tree,
                                                 "batch_id": tree}) | tree,
       gz=st.booleans())
def test_ingest_bodies_get_a_documented_status(shared_gateway, body, gz):
    status, data, _ = http(shared_gateway, "POST", "/ingest", body, key=shared_gateway.key, gzip=gz)
    assert status in (200, 400, 403, 413), (status, data)
    assert isinstance(data, dict) and (("error" in data) == (status != 200))


@given(path=st.sampled_from(["/v1/sources/%s", "/v1/sources/%s/metrics", "/v1/sources/%s/metrics/latest",
                             "/v1/sources/%s/metrics/query", "/v1/sources/%s/events", "/v1/fleet/metrics",
                             "/v1/fleet/health", "/v1/sources", "/v1/sources/%s/runs/x", "/v1/sources/%s/commands/x"]),
       sid=st.sampled_from(["secret-1", "mine-1", "*", "..", "a%2Fb", "x" * 300]) | st.text(max_size=20),
       params=st.dictionaries(st.sampled_from(["metrics", "last", "start", "end", "interval", "tail", "limit",
                                               "name", "status", "metric"]), st.text(max_size=30), max_size=4))
def test_data_api_parameters_never_500_or_leak(shared_gateway, path, sid, params):
    seed_secret(shared_gateway)
    mine = getattr(shared_gateway, "_mine_key", None)
    if mine is None:
        mine = shared_gateway._mine_key = shared_gateway.create_key(scopes="read", source="mine-1")
    url = (path % urllib.parse.quote(sid, safe="")) if "%s" in path else path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    status, data, _ = http(shared_gateway, "GET", url, key=mine)
    assert status in (200, 400, 403, 404, 308, 422), (url, status, data)
    assert str(SECRET) not in json.dumps(data) and "secret-1" not in json.dumps(data), url


@given(first=tree | st.fixed_dictionaries({"type": st.just("auth")}, optional={"api_key": tree}),
       kind=st.sampled_from(["metrics", "logs", "video"]))
def test_live_stream_first_frames_are_authenticated_or_closed(shared_gateway, first, kind):
    ws = websocket.create_connection("%s/v1/sources/secret-1/%s/stream?timeout=1" % (shared_gateway.ws_url, kind),
                                     timeout=60)
    ws.send(json.dumps(first))
    f = recv(ws)
    assert f["type"] == "close" and f["code"] in (4401, 4001), f
    assert alive(shared_gateway)
