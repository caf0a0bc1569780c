"""Video end to end: a real device socket, the real gateway process, real
viewer sockets on /v1/sources/{id}/video/stream (docs/protocol.md §4.13, §8).

The device is either the Plexus client or, where a test needs to see every
write, a bare /ws/device connection authenticated by DeviceSession.
"""

import base64
import json
import shutil
import socket
import threading
import time
from urllib.parse import urlencode

import pytest
import websocket

from plexus import Plexus, video
from plexus_core.session import AUTHENTICATED, DeviceSession
from videokit import decode, gradient, jpeg, noise, wait_for

T0 = 1760000000000


def ws_base(url):
    return "ws" + url[len("http"):] if url.startswith("http") else url


class Viewer:
    """A browser-side viewer of one source's cameras."""

    def __init__(self, gw, source_id, cameras=("camera:0",), timeout=None, key=None,
                 auth=True, sockopt=()):
        self.skipped = []
        q = [("camera_id", c) for c in cameras]
        if timeout is not None:
            q.append(("timeout", str(timeout)))
        url = "%s/v1/sources/%s/video/stream" % (ws_base(gw.url), source_id)
        if q:
            url += "?" + urlencode(q)
        self.ws = websocket.create_connection(url, timeout=60, sockopt=sockopt)
        if auth:
            self.ws.send(json.dumps({"type": "auth", "api_key": key or gw.key}))

    def recv(self):
        """The next JSON message, or ("close", code) when the gateway closed."""
        op, data = self.ws.recv_data(control_frame=True)
        if op == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            return {"type": "close", "code": code}
        if op in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            return self.recv()
        return json.loads(data)

    def next(self, kind, where=lambda m: True):
        """The next message of type `kind` matching `where`; others go to .skipped."""
        while True:
            m = self.recv()
            if m["type"] == kind and where(m):
                return m
            assert m["type"] != "close", "viewer closed with %s while waiting for %s" % (m, kind)
            self.skipped.append(m)

    def close(self):
        self.ws.close()


class DeviceSocket:
    """A bare /ws/device connection: every write is visible to the test."""

    def __init__(self, gw, source_id, key=None):
        self.session = DeviceSession(key or gw.key, source_id, "video-test")
        self.ws = websocket.create_connection(ws_base(gw.ws_url).rstrip("/") + "/ws/device",
                                              timeout=60)
        self.ws.send(self.session.start(0))
        while True:
            evs = self.session.receive(self.ws.recv(), 0)
            if any(e[0] == AUTHENTICATED for e in evs):
                break
            assert not evs or evs[0][0] in ("ignored",), evs
        self._lock = threading.Lock()
        self._stop = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        # Keep reading so pings are answered and acks do not pile up.
        self.ws.settimeout(1)
        while not self._stop:
            try:
                self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                return

    def send_binary(self, data):
        with self._lock:
            self.ws.send_binary(data)
        return True

    def send_text(self, text):
        with self._lock:
            self.ws.send(text)

    def close(self):
        self._stop = True
        self._reader.join(5)
        self.ws.close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for v in ("PLEXUS_API_KEY", "PLEXUS_GATEWAY_URL", "PLEXUS_GATEWAY_WS_URL", "PLEXUS_ENDPOINT"):
        monkeypatch.delenv(v, raising=False)
    (tmp_path / "home").mkdir()
    return tmp_path


@pytest.fixture
def client(gateway, home):
    """Plexus clients on the test gateway, closed afterwards."""
    made = []

    def make(source_id):
        px = Plexus(api_key=gateway.key, source_id=source_id, ws_url=gateway.ws_url,
                    gateway_url=gateway.url, buffer_path=str(home / ("%s.db" % source_id)))
        made.append(px)
        wait_for(lambda: px.connected, what="the client to authenticate")
        return px

    yield make
    for px in made:
        px.close()


def send_until_seen(px, viewer, frame, camera_id, timestamp):
    """Offer the frame until the viewer shows it: the first offers may race
    the viewer's subscription (video is live; nothing is replayed)."""
    deadline = time.monotonic() + 60
    while True:
        px.send_video_frame(frame, camera_id=camera_id, timestamp=timestamp)
        viewer.ws.settimeout(1)
        try:
            return viewer.next("video_frame", lambda m: m["timestamp"] == timestamp)
        except websocket.WebSocketTimeoutException:
            assert time.monotonic() < deadline, "viewer never saw the frame"
        finally:
            viewer.ws.settimeout(60)


# -- frames from the Plexus client to a viewer ------------------------------------------

def test_ndarray_and_jpeg_frames_reach_a_viewer(gateway, client):
    px = client("rig-1")
    v = Viewer(gateway, "rig-1", cameras=["front"])
    init = v.next("init")
    assert any(s["source_id"] == "rig-1" for s in init["online_sources"])

    img = gradient(320, 240, seed=3)
    m = send_until_seen(px, v, img, "front", T0)
    assert (m["source_id"], m["camera_id"], m["width"], m["height"]) == ("rig-1", "front", 320, 240)
    got = decode(base64.b64decode(m["frame"]))
    assert got.shape == (240, 320, 3) and abs(got.astype(int) - img).mean() < 4

    data = jpeg(gradient(64, 48, seed=4))
    m = send_until_seen(px, v, data, "front", T0 + 1)
    assert base64.b64decode(m["frame"]) == data           # JPEG bytes pass through unchanged
    assert (m["width"], m["height"]) == (64, 48)
    v.close()


def test_viewer_gets_only_the_cameras_it_asked_for(gateway, client):
    px = client("rig-2")
    left = Viewer(gateway, "rig-2", cameras=["left"])
    right = Viewer(gateway, "rig-2", cameras=["right"])
    left.next("init")
    right.next("init")
    send_until_seen(px, left, gradient(32, 32), "left", T0)
    send_until_seen(px, right, gradient(32, 32), "right", T0 + 1)     # relayed, to `right`
    send_until_seen(px, left, gradient(32, 32), "left", T0 + 2)
    assert not [m for m in left.skipped if m.get("camera_id") == "right"]
    left.close()
    right.close()


def test_oversized_frame_arrives_within_budget(gateway, client):
    px = client("rig-3")
    v = Viewer(gateway, "rig-3")
    v.next("init")
    m = send_until_seen(px, v, noise(3840, 2160), "camera:0", T0)
    data = base64.b64decode(m["frame"])
    assert len(data) <= video.MAX_JPEG_BYTES
    assert decode(data).shape[:2] == (m["height"], m["width"])
    v.close()


def test_init_lists_the_cameras_of_online_sources(gateway, client):
    px = client("rig-4")
    v = Viewer(gateway, "rig-4", cameras=["bay"])
    v.next("init")
    send_until_seen(px, v, gradient(16, 16), "bay", T0)
    v.close()
    v2 = Viewer(gateway, "rig-4", cameras=["bay"])
    init = v2.next("init")
    src = [s for s in init["online_sources"] if s["source_id"] == "rig-4"]
    assert src and {"camera_id": "bay", "video_type": "normal"} in src[0]["cameras"]
    v2.close()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs FFmpeg (.ci/run installs it)")
def test_ffmpeg_test_source_streams_to_a_viewer(gateway, client):
    px = client("rig-5")
    v = Viewer(gateway, "rig-5", cameras=["testsrc"])
    v.next("init")
    cam = px.stream_camera("lavfi:testsrc=size=320x240:rate=30", camera_id="testsrc", fps=15)
    try:
        seen = [v.next("video_frame") for _ in range(10)]
    finally:
        cam.stop()
    assert cam.error is None
    for m in seen:
        assert (m["camera_id"], m["width"], m["height"]) == ("testsrc", 320, 240)
        assert decode(base64.b64decode(m["frame"])).shape == (240, 320, 3)
    assert [m["timestamp"] for m in seen] == sorted(m["timestamp"] for m in seen)


# -- frames from a bare device socket -------------------------------------------------

def test_json_video_frames_are_relayed_too(gateway):
    # Pre-0.5.1 clients and thermal cameras send video as JSON text frames.
    dev = DeviceSocket(gateway, "rig-6")
    v = Viewer(gateway, "rig-6", cameras=["thermal:0"])
    v.next("init")
    data = jpeg(gradient(32, 24))
    frame = {"type": "video_frame", "camera_id": "thermal:0", "video_type": "thermal",
             "frame": base64.b64encode(data).decode(), "width": 32, "height": 24,
             "timestamp": T0}
    deadline = time.monotonic() + 60
    v.ws.settimeout(1)
    while True:
        dev.send_text(json.dumps(frame))
        try:
            m = v.next("video_frame")
            break
        except websocket.WebSocketTimeoutException:
            assert time.monotonic() < deadline
    assert base64.b64decode(m["frame"]) == data
    assert (m["source_id"], m["camera_id"], m["width"], m["height"], m["timestamp"]) == \
        ("rig-6", "thermal:0", 32, 24, T0)
    v.close()
    dev.close()


def test_the_frame_carries_the_authenticated_source_not_the_header(gateway):
    dev = DeviceSocket(gateway, "rig-7")
    v = Viewer(gateway, "rig-7")
    v.next("init")
    data = jpeg(gradient(16, 16))
    v.ws.settimeout(1)
    deadline = time.monotonic() + 60
    while True:
        dev.send_binary(video.build_frame("someone-else", "camera:0", 16, 16, T0, data))
        try:
            m = v.next("video_frame")
            break
        except websocket.WebSocketTimeoutException:
            assert time.monotonic() < deadline
    assert m["source_id"] == "rig-7"
    v.close()
    dev.close()


def test_a_stalled_viewer_does_not_stall_the_device(gateway):
    """One viewer stops reading (tiny receive buffer, never recv()); the
    device writes ~40 MB of frames straight to its socket, with no
    latest-frame-wins in between, so back-pressure from the stalled viewer
    would block those writes once the socket buffers (a few MB) are full.
    They all complete, and a reading viewer keeps getting frames."""
    dev = DeviceSocket(gateway, "rig-8")
    stalled = Viewer(gateway, "rig-8", sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    live = Viewer(gateway, "rig-8")
    live.next("init")
    data = jpeg(noise(640, 480), 95)                      # ~360 kB
    n = 40 * 1024 * 1024 // len(data)
    got = []

    def watch():
        try:
            while True:
                m = live.recv()
                if m["type"] != "video_frame":
                    return
                got.append(m["timestamp"])
        except Exception:
            return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    done = threading.Event()
    sent = []

    def flood():
        for i in range(n):
            dev.send_binary(video.build_frame("rig-8", "camera:0", 640, 480, T0 + i, data))
            sent.append(i)
        done.set()

    threading.Thread(target=flood, daemon=True).start()
    assert done.wait(300), "device blocked after %d of %d frames" % (len(sent), n)
    wait_for(lambda: got, timeout=60, what="frames at the reading viewer")
    # The gateway still relays: a marker frame reaches the reading viewer.
    marker = T0 + 10 * n
    small = jpeg(gradient(16, 16))
    deadline = time.monotonic() + 90
    while marker not in got:
        assert time.monotonic() < deadline, "the reading viewer stopped getting frames"
        dev.send_binary(video.build_frame("rig-8", "camera:0", 16, 16, marker, small))
        try:
            wait_for(lambda: marker in got, timeout=1)
        except AssertionError:
            pass                    # not yet: offer it again
    live.close()
    stalled.ws.sock.close()
    dev.close()


def close_code(viewer):
    """Read until the gateway closes the viewer; its close code."""
    while True:
        m = viewer.recv()
        if m["type"] == "close":
            return m["code"]


# -- viewer auth and limits (docs/protocol.md §8) -------------------------------------

def test_viewer_with_a_bad_key_is_closed_4001(gateway):
    v = Viewer(gateway, "rig-9", key="plx_not_a_real_key")
    assert close_code(v) == 4001


def test_viewer_whose_first_frame_is_not_auth_is_closed_4001(gateway):
    v = Viewer(gateway, "rig-9", auth=False)
    v.ws.send(json.dumps({"type": "subscribe"}))
    assert close_code(v) == 4001


def test_viewer_timeout_closes_4008(gateway):
    v = Viewer(gateway, "rig-10", timeout=1)
    v.next("init")
    assert close_code(v) == 4008


def test_video_frames_never_show_the_api_key(gateway, client):
    px = client("rig-11")
    v = Viewer(gateway, "rig-11")
    v.next("init")
    m = send_until_seen(px, v, gradient(16, 16), "camera:0", T0)
    assert gateway.key not in json.dumps(m)
    v.close()
