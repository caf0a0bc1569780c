"""Latest-frame-wins sending of video frames (docs/protocol.md §4.13).

The caller only validates and hands a frame over; a background thread
encodes and sends it, and while it is busy a newer frame of the same camera
replaces the older one (counted in `frames_dropped`). Video is live: a frame
the socket cannot take right now is dropped, never buffered.
"""

import threading

from plexus.video.camera import DEFAULT_CAMERA, CameraStream, check_camera_id
from plexus.video.encode import DEFAULT_QUALITY, check_quality, prepare_frame
from plexus_core.clock import wall_ms
from plexus_core.points import normalize_timestamp
from plexus_core.videoframe import MAX_JPEG_BYTES, build_frame


class VideoSender:
    """Queues at most one frame per camera and sends from its own thread.

    send_binary(bytes) -> bool writes one binary WebSocket message and returns
    False when there is no authenticated connection; it must be thread-safe.
    now_ms() gives the server-corrected epoch ms for frames without a
    timestamp.
    """

    def __init__(self, send_binary, source_id, now_ms=None, budget=MAX_JPEG_BYTES):
        self._send = send_binary
        self.source_id = source_id
        self._now_ms = now_ms or wall_ms
        self.budget = budget
        self._cond = threading.Condition()
        self._pending = {}          # camera_id -> frame; insertion order = fair order
        self._thread = None
        self._closed = False
        self._streams = []
        self.frames_sent = 0
        self.frames_dropped = 0
        self.last_error = None      # why the latest frame was dropped, if it was

    def send_frame(self, frame, camera_id=DEFAULT_CAMERA, quality=DEFAULT_QUALITY,
                   timestamp=None):
        """Queue a frame; True when queued. Never waits for the network.

        Bad frames raise here (TypeError/ValueError, or ImportError naming the
        `video` extra). A frame of the same camera still waiting is replaced
        by this one and counted in frames_dropped.
        """
        check_camera_id(camera_id)
        check_quality(quality)
        ts = normalize_timestamp(timestamp, self._now_ms)
        item = prepare_frame(frame, quality, ts, self.budget)
        with self._cond:
            if self._closed:
                raise RuntimeError("video sender is closed; create a new Plexus client to send video")
            if camera_id in self._pending:
                self.frames_dropped += 1    # replaced by a newer frame, keeps its turn
            self._pending[camera_id] = item
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="plexus-video", daemon=True)
                self._thread.start()
            self._cond.notify()
        return True

    def _next(self):
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if self._closed:
                return None, None
            cam = next(iter(self._pending))
            return cam, self._pending.pop(cam)

    def _run(self):
        while True:
            cam, item = self._next()
            if cam is None:
                return
            ok = False
            try:
                jpeg, w, h = item.encode(self.budget)
                ok = bool(self._send(build_frame(self.source_id, cam, w, h, item.timestamp, jpeg)))
                if not ok:
                    self.last_error = "not connected"
            except Exception as e:      # a bad frame or a broken socket must not stop video
                self.last_error = "%s: %s" % (type(e).__name__, e)
            with self._cond:
                if ok:
                    self.frames_sent += 1
                else:
                    self.frames_dropped += 1

    def stream_camera(self, url, camera_id=DEFAULT_CAMERA, fps=15, quality=DEFAULT_QUALITY,
                      input_args=None):
        """Start FFmpeg on `url` and send its frames; returns a CameraStream."""
        check_camera_id(camera_id)
        with self._cond:
            if self._closed:
                raise RuntimeError("video sender is closed; create a new Plexus client to send video")
        s = CameraStream(self, url, camera_id, fps, quality, input_args).start()
        with self._cond:
            closed = self._closed
            if not closed:
                self._streams = [x for x in self._streams if x.running]
                self._streams.append(s)
        if closed:
            s.stop()
        return s

    def close(self, timeout=2.0):
        """Stop camera streams and the sender; frames still waiting are dropped."""
        with self._cond:
            streams, self._streams = self._streams, []
        for s in streams:
            s.stop()
        with self._cond:
            self._closed = True
            self.frames_dropped += len(self._pending)
            self._pending.clear()
            self._cond.notify_all()
            t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

