"""VideoSender: the caller never waits, the newest frame wins, drops are counted.

The link is a real function called from the sender thread; a slow link is
one that blocks on an Event until the test releases it.
"""

import subprocess
import sys
import threading

import pytest

from plexus import video
from videokit import decode, gradient, jpeg, noise, wait_for

T0 = 1760000000000


class Link:
    """send_binary stand-in: records frames; can be held shut or refuse."""

    def __init__(self):
        self.frames = []
        self.open = threading.Event()
        self.open.set()
        self.busy = threading.Event()     # set while a send is blocked
        self.connected = True
        self.fail = None

    def __call__(self, data):
        self.busy.set()
        self.open.wait()
        self.busy.clear()
        if self.fail:
            raise self.fail
        if not self.connected:
            return False
        self.frames.append(video.parse_frame(data))
        return True


def call_returns(fn, *a, **kw):
    """Run fn on another thread; True if it returned while the link is blocked."""
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", fn(*a, **kw)), daemon=True)
    t.start()
    t.join(30)
    return not t.is_alive() and out.get("r")


def test_frames_reach_the_link_with_header_fields():
    link = Link()
    with video.VideoSender(link, "rig-1", now_ms=lambda: 1760000000000) as s:
        assert s.send_frame(gradient(320, 240), camera_id="front", timestamp=1760000000.5)
        wait_for(lambda: s.frames_sent == 1)
        s.send_frame(jpeg(gradient(64, 48)))
        wait_for(lambda: s.frames_sent == 2)
    a, b = link.frames
    assert (a["source_id"], a["camera_id"], a["width"], a["height"], a["timestamp"]) == \
        ("rig-1", "front", 320, 240, 1760000000500)
    assert decode(a["jpeg"]).shape == (240, 320, 3)
    assert (b["camera_id"], b["width"], b["height"], b["timestamp"]) == \
        ("camera:0", 64, 48, 1760000000000)          # default camera, now_ms() stamp
    assert s.frames_dropped == 0


def test_slow_link_latest_frame_wins_and_the_caller_never_waits():
    link = Link()
    s = video.VideoSender(link, "rig-1")
    link.open.clear()
    s.send_frame(gradient(32, 32, seed=0), timestamp=T0)
    wait_for(link.busy.is_set, what="first frame in flight")
    for i in range(1, 11):                                  # link blocked all along
        assert call_returns(s.send_frame, gradient(32, 32, seed=i), timestamp=T0 + i)
    assert s.frames_dropped == 9                            # 1..9 replaced by 10
    link.open.set()
    wait_for(lambda: s.frames_sent == 2)
    assert [f["timestamp"] for f in link.frames] == [T0, T0 + 10]
    s.close()


def test_each_camera_has_its_own_slot_and_its_turn():
    link = Link()
    s = video.VideoSender(link, "rig-1")
    link.open.clear()
    s.send_frame(gradient(16, 16), camera_id="a", timestamp=T0 + 1)
    wait_for(link.busy.is_set)
    s.send_frame(gradient(16, 16), camera_id="b", timestamp=T0 + 2)
    s.send_frame(gradient(16, 16), camera_id="c", timestamp=T0 + 3)
    s.send_frame(gradient(16, 16), camera_id="b", timestamp=T0 + 4)    # replaces b, keeps b's turn
    link.open.set()
    wait_for(lambda: s.frames_sent == 3)
    assert [(f["camera_id"], f["timestamp"]) for f in link.frames] == [("a", T0 + 1), ("b", T0 + 4), ("c", T0 + 3)]
    assert s.frames_dropped == 1
    s.close()


def test_frames_offered_while_disconnected_are_dropped_and_counted():
    link = Link()
    link.connected = False
    s = video.VideoSender(link, "rig-1")
    s.send_frame(gradient(16, 16))
    wait_for(lambda: s.frames_dropped == 1)
    assert s.last_error == "not connected"
    link.connected = True
    s.send_frame(gradient(16, 16))
    wait_for(lambda: s.frames_sent == 1)
    s.close()


def test_a_link_that_raises_does_not_stop_video():
    link = Link()
    link.fail = OSError("socket closed")
    s = video.VideoSender(link, "rig-1")
    s.send_frame(gradient(16, 16))
    wait_for(lambda: s.frames_dropped == 1)
    assert "socket closed" in s.last_error
    link.fail = None
    s.send_frame(gradient(16, 16))
    wait_for(lambda: s.frames_sent == 1)
    s.close()


def test_oversized_frames_are_fitted_on_the_sender_thread():
    link = Link()
    s = video.VideoSender(link, "rig-1")
    s.send_frame(noise(1920, 1080))
    s.send_frame(jpeg(noise(1920, 1080), 100), camera_id="b")
    wait_for(lambda: s.frames_sent == 2, timeout=60)
    for f in link.frames:
        assert len(f["jpeg"]) <= video.MAX_JPEG_BYTES
        assert video.jpeg_size(f["jpeg"]) == (f["width"], f["height"])
    s.close()


def test_bad_input_raises_on_the_callers_thread_and_queues_nothing():
    link = Link()
    s = video.VideoSender(link, "rig-1")
    with pytest.raises(ValueError, match="camera_id"):
        s.send_frame(gradient(8, 8), camera_id="")
    with pytest.raises(ValueError, match="quality"):
        s.send_frame(gradient(8, 8), quality=0)
    with pytest.raises(ValueError, match="timestamp"):
        s.send_frame(gradient(8, 8), timestamp=-5)
    with pytest.raises(ValueError, match="not an image"):
        s.send_frame(b"GIF? no")
    assert s._thread is None and s.frames_sent == s.frames_dropped == 0
    s.close()


def test_close_is_prompt_even_with_the_link_stuck_and_drops_what_waits():
    link = Link()
    link.open.clear()
    s = video.VideoSender(link, "rig-1")
    s.send_frame(gradient(16, 16), camera_id="a")
    wait_for(link.busy.is_set)
    s.send_frame(gradient(16, 16), camera_id="b")
    assert call_returns(lambda: s.close(timeout=0.5) or True)
    assert s.frames_dropped == 1
    with pytest.raises(RuntimeError, match="closed"):
        s.send_frame(gradient(16, 16))
    link.open.set()


def test_many_threads_sending_at_once_lose_no_count():
    link = Link()
    link.open.clear()
    s = video.VideoSender(link, "rig-1")
    img = jpeg(gradient(16, 16))

    def burst(cam):
        for _ in range(200):
            s.send_frame(img, camera_id=cam)

    ts = [threading.Thread(target=burst, args=("cam%d" % i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    link.open.set()
    wait_for(lambda: s.frames_sent + s.frames_dropped == 800)
    assert s.frames_sent >= 4
    s.close()


def test_import_without_opencv_gives_the_install_hint_only_when_needed(tmp_path):
    # A child interpreter where numpy and cv2 cannot be imported.
    code = r"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("cv2", "numpy"):
            raise ImportError("blocked", name=name)
sys.meta_path.insert(0, Block())
from plexus import video
sent = []
s = video.VideoSender(sent.append, "rig")
s.send_frame(JPEG)                      # JPEG passthrough needs neither
s.close()
try:
    s2 = video.VideoSender(sent.append, "rig")
    s2.send_frame(PNG)
except ImportError as e:
    print("ERR", e)
"""
    code = code.replace("JPEG", repr(jpeg(gradient(8, 8)))).replace("PNG", repr(b"\x89PNG\r\n\x1a\n..."))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "ERR" in r.stdout and "pip install opencv-python-headless numpy" in r.stdout
