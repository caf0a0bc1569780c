"""Cameras through FFmpeg: any source FFmpeg opens (a V4L2 device, an RTSP or
HTTP camera, a file, `lavfi:testsrc`) becomes an MJPEG stream whose frames go
to a VideoSender.

No camera device is attached where the tests run: they drive this code with
FFmpeg's own test source (`lavfi:testsrc`) and a small MJPEG-over-HTTP
server, through the real FFmpeg; only the device input itself is not run.
"""

import collections
import os
import re
import shutil
import subprocess
import threading

from plexus.config import say
from plexus.video.encode import DEFAULT_QUALITY, check_quality
from plexus.video.mjpeg import read_mjpeg_frames
from plexus_core.errors import PlexusError

DEFAULT_CAMERA = "camera:0"


def check_camera_id(camera_id):
    if not isinstance(camera_id, str) or not camera_id:
        raise ValueError("camera_id must be a non-empty string such as 'camera:0', got %r"
                         % (camera_id,))
    return camera_id


# "<format>:<input>" selects an FFmpeg input device, e.g. "lavfi:testsrc",
# "v4l2:/dev/video2", "avfoundation:0" (macOS), "dshow:video=USB Camera" (Windows).
INPUT_FORMATS = ("lavfi", "v4l2", "video4linux2", "avfoundation", "dshow", "gdigrab",
                 "x11grab", "kmsgrab", "libcamera")

_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


def redact_url(text):
    """Hide user:password@ of camera URLs in text shown to people."""
    return _CREDENTIALS.sub(r"\1***@", text)


def ffmpeg_quality(quality):
    """JPEG quality 1-100 -> FFmpeg's MJPEG -q:v scale (2 best .. 31 worst)."""
    return max(2, min(31, int(round(2 + (100 - quality) * 0.29))))


def ffmpeg_command(url, fps=15, quality=DEFAULT_QUALITY, input_args=None, ffmpeg="ffmpeg"):
    """The FFmpeg argument list that turns `url` into an MJPEG stream on stdout."""
    if not isinstance(url, str) or not url:
        raise ValueError("camera url must be a non-empty string (a path, URL or "
                         "'<format>:<input>' such as 'lavfi:testsrc'), got %r" % (url,))
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 240:
        raise ValueError("fps must be a number above 0 and at most 240, got %r" % (fps,))
    check_quality(quality)
    args = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error"]
    fmt, sep, rest = url.partition(":")
    if sep and fmt in INPUT_FORMATS:
        args += ["-f", "v4l2" if fmt == "video4linux2" else fmt]
        url = rest
    args += list(input_args or ())
    args += ["-i", url, "-an", "-sn", "-dn", "-vf", "fps=%s" % fps,
             "-f", "image2pipe", "-vcodec", "mjpeg", "-q:v", str(ffmpeg_quality(quality)),
             "pipe:1"]
    return args


class CameraStream:
    """One FFmpeg process whose frames go to a VideoSender.

    Three threads keep it from ever stalling: FFmpeg's stdout is split into
    JPEGs and handed to the sender (latest-frame-wins, so never blocked by
    the network); its stderr is drained continuously (a full stderr pipe
    would freeze FFmpeg) and the last lines kept for the error report;
    stop() kills the process, which ends the reader even if the source
    stalled mid-frame.
    """

    STDERR_LINES = 20

    def __init__(self, sender, url, camera_id=DEFAULT_CAMERA, fps=15, quality=DEFAULT_QUALITY,
                 input_args=None):
        self._sender = sender
        self.url = url
        self.camera_id = camera_id
        self.quality = quality
        self.args = ffmpeg_command(url, fps, quality, input_args)
        self.frames = 0
        self.stderr_bytes = 0
        self.stderr_tail = collections.deque(maxlen=self.STDERR_LINES)
        self.returncode = None
        self.error = None            # text of an FFmpeg failure, None while fine
        self._proc = None
        self._stopping = threading.Event()
        self._sender_closed = False
        self._done = threading.Event()
        self._threads = []

    def start(self):
        exe = shutil.which(self.args[0])
        if exe is None:
            raise PlexusError("FFmpeg is not installed (no 'ffmpeg' on PATH): install it, "
                              "e.g. 'sudo apt install ffmpeg' or 'brew install ffmpeg'")
        try:
            self._proc = subprocess.Popen([exe] + self.args[1:], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          bufsize=0)
        except OSError as e:
            raise PlexusError("could not start FFmpeg: %s" % e) from None
        for target, name in ((self._read_frames, "plexus-camera"),
                             (self._drain_stderr, "plexus-camera-stderr")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    @property
    def running(self):
        return self._proc is not None and not self._done.is_set()

    def _read_frames(self):
        try:
            for jpeg in read_mjpeg_frames(self._proc.stdout.fileno()):
                if self._stopping.is_set():
                    break
                try:
                    self._sender.send_frame(jpeg, self.camera_id, self.quality)
                    self.frames += 1
                except RuntimeError:        # the sender was closed
                    self._sender_closed = True
                    break
                except ValueError as e:     # one bad frame: say so, keep streaming
                    self._sender.last_error = str(e)
        except OSError:
            pass
        finally:
            self._end_process()
            self._finish()

    def _drain_stderr(self):
        fd = self._proc.stderr.fileno()
        partial = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            self.stderr_bytes += len(chunk)
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()[-4096:]           # a line without its end yet
            for line in lines[-self.STDERR_LINES:]:
                self._keep_line(line)
        self._keep_line(partial)

    def _keep_line(self, line):
        text = line.decode("utf-8", "replace").strip()
        if text:
            self.stderr_tail.append(redact_url(text))

    def _finish(self):
        proc = self._proc
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # stdout closed but FFmpeg lingers
            proc.kill()
            rc = proc.wait()
        self._threads[1].join(5)           # the last stderr lines explain the exit
        self.returncode = rc
        if not self._stopping.is_set() and rc != 0 and not self._sender_closed:
            last = "; ".join(list(self.stderr_tail)[-3:]) or "no message"
            self.error = ("FFmpeg exited with code %s for camera %r (%s): %s"
                          % (rc, self.camera_id, redact_url(self.url), last))
            say(self.error)
        proc.stdout.close()
        proc.stderr.close()
        self._done.set()

    def _end_process(self):
        """SIGTERM, then SIGKILL if FFmpeg is still there a second later
        (it can sit in a blocking read of a stalled source)."""
        proc = self._proc
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                proc.kill()

    def stop(self, timeout=5.0):
        """Stop FFmpeg and wait for the stream to end."""
        self._stopping.set()
        if self._proc is None:
            return
        self._end_process()
        self._done.wait(timeout)

    def wait(self, timeout=None):
        """Block until the stream ends; returns True, or False on timeout.
        Raises PlexusError if FFmpeg failed."""
        if not self._done.wait(timeout):
            return False
        if self.error:
            raise PlexusError(self.error)
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

