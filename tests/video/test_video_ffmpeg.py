"""stream_camera with the real FFmpeg: test sources, stalls, failures.

No camera device is attached where these run: FFmpeg's own test source
(`lavfi:testsrc`) and a small MJPEG-over-HTTP server stand in for one. The
FFmpeg process, its pipes and the frame path are real; a V4L2 device is not."""

import shutil
import socket
import threading
import time

import pytest

from plexus import video
from plexus_core.errors import PlexusError
from videokit import decode, gradient, jpeg, wait_for

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="needs FFmpeg (apt-get install ffmpeg; .ci/run installs it)")


class Link:
    def __init__(self):
        self.frames = []

    def __call__(self, data):
        self.frames.append(video.parse_frame(data))
        return True


def timed(fn):
    """Seconds fn() took (run on this thread; used for generous bounds only)."""
    t = time.monotonic()
    fn()
    return time.monotonic() - t


def test_command_line():
    args = video.ffmpeg_command("rtsp://cam/stream", fps=10, quality=100)
    assert args[args.index("-i") + 1] == "rtsp://cam/stream"
    assert args[args.index("-vf") + 1] == "fps=10"
    assert args[args.index("-q:v") + 1] == "2"
    assert args[-6:] == ["-f", "image2pipe", "-vcodec", "mjpeg", "-q:v", "2", "pipe:1"][-6:]
    a = video.ffmpeg_command("lavfi:testsrc=size=64x48", input_args=["-re"])
    assert a[a.index("-f"):a.index("-i") + 2] == ["-f", "lavfi", "-re", "-i", "testsrc=size=64x48"]
    a = video.ffmpeg_command("C:/cams/a.mp4")             # a drive letter is no input format
    assert "-f" not in a[:a.index("-i")] and a[a.index("-i") + 1] == "C:/cams/a.mp4"
    for bad in (dict(url=""), dict(url="x", fps=0), dict(url="x", fps=True), dict(url="x", quality=0)):
        with pytest.raises(ValueError):
            video.ffmpeg_command(**bad)


def test_lavfi_test_source_streams_real_frames():
    link = Link()
    with video.VideoSender(link, "rig-1") as s:
        cam = s.stream_camera("lavfi:testsrc=size=320x240:rate=30", camera_id="bench", fps=15)
        wait_for(lambda: s.frames_sent >= 10, what="10 frames from FFmpeg")
        assert cam.running and cam.error is None
    f = link.frames[-1]
    assert (f["camera_id"], f["width"], f["height"]) == ("bench", 320, 240)
    assert decode(f["jpeg"]).shape == (240, 320, 3)
    assert not cam.running                    # close() stopped the stream


def test_stderr_is_drained_so_a_chatty_ffmpeg_keeps_going():
    # At debug level FFmpeg writes ~400 bytes per frame to stderr; an
    # undrained 64 KiB pipe would freeze it after ~150 frames.
    link = Link()
    with video.VideoSender(link, "rig-1") as s:
        cam = s.stream_camera("lavfi:testsrc=size=64x48:rate=200", fps=200,
                              input_args=["-loglevel", "debug"])
        wait_for(lambda: cam.frames >= 1000 and cam.stderr_bytes > 256 * 1024, timeout=120,
                 what="1000 frames with >256 KiB of stderr")
        assert cam.running and len(cam.stderr_tail) == cam.STDERR_LINES


def serve_then_stall(frames):
    """An MJPEG-over-HTTP camera that sends `frames` whole frames and half of
    one more, then stalls with the socket open."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    state = {"conns": []}

    def run():
        c, _ = srv.accept()
        state["conns"].append(c)
        c.recv(65536)
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=f\r\n\r\n")
        for i in range(frames + 1):
            f = jpeg(gradient(160, 120, seed=i))
            part = b"--f\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(f)
            c.sendall(part + (f + b"\r\n" if i < frames else f[: len(f) // 2]))
        state["stalled"] = True

    threading.Thread(target=run, daemon=True).start()
    return "http://127.0.0.1:%d/cam.mjpg" % srv.getsockname()[1], state, srv


def test_stop_is_prompt_when_the_source_stalls_mid_frame():
    url, state, srv = serve_then_stall(40)
    link = Link()
    s = video.VideoSender(link, "rig-1")
    try:
        cam = s.stream_camera(url)
        wait_for(lambda: state.get("stalled") and s.frames_sent >= 5, what="frames, then the stall")
        assert cam.running
        took = timed(cam.stop)
        assert not cam.running and cam.error is None and cam.returncode is not None
        assert took < 15, "stop() took %.1fs with a stalled source" % took
        assert cam.wait(0) is True
    finally:
        s.close()
        srv.close()
        for c in state["conns"]:
            c.close()


def test_ffmpeg_failure_is_reported_with_its_message():
    link = Link()
    with video.VideoSender(link, "rig-1") as s:
        cam = s.stream_camera("/nonexistent/camera.mp4")
        with pytest.raises(PlexusError, match="No such file or directory"):
            cam.wait(60)
        assert cam.returncode != 0 and "exited with code" in cam.error
        assert not cam.running


def test_credentials_in_a_camera_url_never_show_in_errors(capfd):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))             # bound, not listening: connection refused
    url = "rtsp://admin:hunter2@127.0.0.1:%d/live" % dead.getsockname()[1]
    try:
        with video.VideoSender(Link(), "rig-1") as s:
            cam = s.stream_camera(url)
            with pytest.raises(PlexusError) as e:
                cam.wait(60)
    finally:
        dead.close()
    assert "hunter2" not in str(e.value) and "***@127.0.0.1" in str(e.value)
    assert "hunter2" not in "".join(cam.stderr_tail) + capfd.readouterr().err


def test_missing_ffmpeg_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with video.VideoSender(Link(), "rig-1") as s:
        with pytest.raises(PlexusError, match="FFmpeg is not installed.*apt install ffmpeg"):
            s.stream_camera("lavfi:testsrc")


def test_a_finished_source_ends_the_stream_without_error():
    with video.VideoSender(Link(), "rig-1") as s:
        cam = s.stream_camera("lavfi:testsrc=size=64x48:rate=10:duration=1", fps=10)
        assert cam.wait(60) is True
        assert cam.returncode == 0 and cam.error is None and cam.frames == 10


def test_a_stream_whose_sender_closed_ends_quietly():
    s = video.VideoSender(Link(), "rig-1")
    s.close()
    cam = video.CameraStream(s, "lavfi:testsrc=size=64x48:rate=30").start()
    assert cam.wait(60) is True           # FFmpeg was ended, not left writing into a full pipe
    assert cam.error is None and not cam.running
