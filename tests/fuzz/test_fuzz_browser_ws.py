"""Generated frames on `/ws/browser` against one real gateway: it never
answers 500 or dies, a connection keeps serving valid frames after any
frame, and a key limited to one source never sees or commands another."""

import json
import threading

import websocket
from hypothesis import HealthCheck, given, settings, strategies as st

from support.raw import device, http, ingest, recv

settings.register_profile("browser-fuzz", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

leaf = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=40)
tree = st.recursive(leaf, lambda k: st.lists(k, max_size=4) | st.dictionaries(st.text(max_size=12), k, max_size=5),
                    max_leaves=20)
TYPES = ["subscribe", "set_throttle", "ready", "ping", "pong", "start_stream", "stop_stream", "start_camera",
         "configure", "mavlink_command", "typed_command", "browser_auth", "nonsense"]
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | tree},
    optional={"source_id": st.sampled_from(["secret-1", "mine-1", "", "*"]) | tree,
              "stream": st.sampled_from(["metrics", "logs", "video"]) | tree, "metrics": tree,
              "cameras": st.lists(st.sampled_from(["default", "cam"]) | tree, max_size=3) | tree,
              "max_fps": tree, "enabled": tree, "config": tree, "camera_id": tree, "interval_ms": tree})


class SecretDevice:
    """Source "secret-1" on a raw device socket, recording what it is sent."""

    def __init__(self, gw):
        self.ws, reply = device(gw, "secret-1", acks=False)
        assert reply["type"] == "authenticated"
        self.received = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            while True:
                f = recv(self.ws)
                if f["type"] == "close":
                    return
                self.received.append(f)
        except Exception:
            return


def setup(gw):
    if not hasattr(gw, "_secret"):
        gw._secret = SecretDevice(gw)
        gw._mine = gw.create_key(scopes="read,commands", source="mine-1")
    return gw._secret, gw._mine


def alive(gw):
    """Still answering, and nothing it was sent made a handler fail."""
    return http(gw, "GET", "/health")[0] == 200 and "Traceback" not in gw.log()


@settings(settings.get_profile("browser-fuzz"))
@given(first=tree | st.fixed_dictionaries({"type": st.sampled_from(["browser_auth", "share_auth", "data_api_auth"])},
                                           optional={"token": tree, "api_key": tree}),
       raw=st.booleans())
def test_first_frames_are_authenticated_or_refused(shared_gateway, first, raw):
    ws = websocket.create_connection(shared_gateway.ws_url + "/ws/browser", timeout=60)
    ws.send(json.dumps(first)[:-1] if raw else json.dumps(first))
    f = recv(ws)
    assert f["type"] == "error" and isinstance(f["message"], str), f    # no generated token is a key
    assert recv(ws)["code"] == 1008
    assert alive(shared_gateway)


@settings(settings.get_profile("browser-fuzz"))
@given(sent=st.lists(frames | tree, min_size=1, max_size=4), raw=st.booleans(),
       kind=st.sampled_from(["browser_auth", "share_auth", "data_api_auth"]))
def test_any_frame_leaves_the_connection_serving_and_never_leaks(shared_gateway, sent, raw, kind):
    secret, mine = setup(shared_gateway)
    ws = websocket.create_connection(shared_gateway.ws_url + "/ws/browser", timeout=60)
    ws.send(json.dumps({"type": kind, "api_key" if kind == "data_api_auth" else "token": mine}))
    assert recv(ws)["type"] == "init"
    for f in sent:
        ws.send(json.dumps(f)[:-1] if raw else json.dumps(f))
    assert ingest(shared_gateway, [{"metric": "secret", "value": 1}, {"metric": "log", "value": "s"}],
                  source_id="secret-1")[0] == 200
    ws.send(json.dumps({"type": "ping"}))
    seen = []
    while True:                     # the connection still answers
        f = recv(ws)
        assert f["type"] != "close", (f, sent)
        seen.append(f)
        if f["type"] == "pong":
            break
    ws.close()
    assert "secret-1" not in json.dumps(seen), seen
    assert not [f for f in secret.received if f["type"] == "typed_command"], secret.received
    assert alive(shared_gateway)


def test_a_plain_request_is_refused_not_a_server_error(shared_gateway):
    status, _, _ = http(shared_gateway, "GET", "/ws/browser")
    assert 400 <= status < 500
