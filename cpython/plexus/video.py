"""Video frames to the gateway (docs/protocol.md §4.13), CPython only.

    px.send_video_frame(frame)                 # ndarray (BGR/gray) or image bytes
    cam = px.stream_camera("/dev/video0")      # FFmpeg -> MJPEG -> frames
    cam.stop()

A frame becomes JPEG bytes that fit the 750,000-byte budget and travels as
one binary WebSocket message. Sending is latest-frame-wins: the caller only
validates and hands the frame over; a background thread encodes and sends,
and while it is busy a newer frame of the same camera replaces the older
one (counted in `frames_dropped`). Video is live: a frame the socket cannot
take right now is dropped, never buffered.

JPEG bytes pass through without any dependency. Arrays, other image formats
and re-encoding need OpenCV and numpy: pip install opencv-python-headless numpy.
"""

import collections
import os
import re
import shutil
import struct
import subprocess
import sys
import threading

from plexus_core.clock import wall_ms
from plexus_core.errors import PlexusError
from plexus_core.points import normalize_timestamp

MAX_JPEG_BYTES = 750000        # docs/protocol.md §4.13 budget for the JPEG part of one frame
FRAME_VERSION = 1
MAX_ID_BYTES = 255             # source_id / camera_id length fields are one byte
HEADER_STRUCT = struct.Struct(">IIq")   # width, height, timestamp_ms
DEFAULT_CAMERA = "camera:0"
DEFAULT_QUALITY = 85
MIN_QUALITY = 30               # below this JPEG turns to blocks: shrink the image instead
MAX_FIT_PASSES = 24
MAX_JPEG_SIDE = 65535          # JPEG stores width and height in 16 bits
MAX_MJPEG_FRAME_BYTES = 16 * 1024 * 1024

EXTRA_HINT = "pip install opencv-python-headless numpy"

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"


def _say(msg):
    """One `[plexus] ...` line on stderr, unless PLEXUS_QUIET is set."""
    if os.environ.get("PLEXUS_QUIET", "").strip().lower() not in ("1", "true", "yes"):
        sys.stderr.write("[plexus] %s\n" % msg)
        sys.stderr.flush()


def _cv():
    """(numpy, cv2), or an ImportError that says how to install them."""
    try:
        import numpy
        import cv2
    except ImportError as e:
        raise ImportError("video frames need OpenCV and numpy (missing: %s): %s"
                          % (e.name or e, EXTRA_HINT)) from e
    return numpy, cv2


def _ndarray_type():
    # An ndarray can only exist if numpy is already imported: never import it here.
    np = sys.modules.get("numpy")
    return getattr(np, "ndarray", None)


# -- JPEG structure ------------------------------------------------------------

# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF = frozenset(m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC))


def _standalone(m):
    # Markers without a length field: TEM, RST0-7, SOI, EOI.
    return m == 0x01 or 0xD0 <= m <= 0xD9


def jpeg_size(data):
    """(width, height) read from a JPEG's frame header, without decoding it.

    Raises ValueError if the bytes are not a JPEG or the header is cut off.
    """
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8:
        raise ValueError("not a JPEG (it must start with FF D8)")
    i = 2
    while i < n:
        if data[i] != 0xFF:
            raise ValueError("corrupt JPEG: no marker at byte %d" % i)
        while i < n and data[i] == 0xFF:
            i += 1                              # fill bytes before a marker
        if i >= n:
            break
        m = data[i]
        i += 1
        if _standalone(m) and m != 0xD9:
            continue
        if m == 0xD9 or m == 0xDA:
            raise ValueError("JPEG has no frame header before its image data")
        if i + 2 > n:
            break
        seg = (data[i] << 8) | data[i + 1]
        if seg < 2:
            raise ValueError("corrupt JPEG: bad segment length at byte %d" % i)
        if m in _SOF:
            if i + 7 > n:
                break
            h = (data[i + 3] << 8) | data[i + 4]
            w = (data[i + 5] << 8) | data[i + 6]
            return w, h
        i += seg
    raise ValueError("JPEG is cut off before its frame header")


# -- encoding ------------------------------------------------------------------

def check_quality(quality):
    if type(quality) is not int or not 1 <= quality <= 100:
        raise ValueError("quality must be an int from 1 to 100 (JPEG quality), got %r"
                         % (quality,))
    return quality


def as_bgr_image(frame):
    """Check an ndarray frame and return a contiguous uint8 gray or BGR copy.

    Accepted: H×W (gray), H×W×1, H×W×3 (BGR, as OpenCV captures it), H×W×4
    (BGRA; alpha is dropped, JPEG has none). The copy means the caller may
    reuse its buffer as soon as send_frame() returns.
    """
    np, cv2 = _cv()
    if frame.dtype != np.uint8:
        hint = ("scale it first, e.g. (frame >> 8).astype(numpy.uint8)"
                if frame.dtype.kind in "ui" else
                "scale it first, e.g. (frame * 255).clip(0, 255).astype(numpy.uint8)"
                if frame.dtype.kind == "f" else "convert it to uint8 (0-255 per channel)")
        raise ValueError("frame dtype is %s; JPEG needs uint8 pixels: %s" % (frame.dtype, hint))
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (3, 4))):
        raise ValueError("frame shape is %s; pass H×W (gray), H×W×3 (BGR) or H×W×4 (BGRA)"
                         % (tuple(frame.shape),))
    h, w = frame.shape[0], frame.shape[1]
    if h == 0 or w == 0:
        raise ValueError("frame is empty (shape %s)" % (tuple(frame.shape),))
    if h > MAX_JPEG_SIDE or w > MAX_JPEG_SIDE:
        raise ValueError("frame is %d×%d; JPEG allows at most %d pixels a side: resize it"
                         % (w, h, MAX_JPEG_SIDE))
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)     # a new array
    return np.array(frame, dtype=np.uint8, order="C", copy=True)


def decode_image(data):
    """Image bytes of any format OpenCV reads (PNG, BMP, WebP, ...) -> BGR array."""
    np, cv2 = _cv()
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise ValueError("frame bytes are not an image OpenCV can read (%d bytes starting %s); "
                         "pass JPEG or PNG bytes, or a numpy array" % (len(data), data[:8].hex(" ")))
    return img


def encode_jpeg(image, quality):
    """One JPEG encode of a uint8 gray/BGR array."""
    _, cv2 = _cv()
    ok, buf = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError("OpenCV could not encode the frame as JPEG")
    return buf.tobytes()


def fit_jpeg(image, quality=DEFAULT_QUALITY, budget=MAX_JPEG_BYTES):
    """Encode `image` as JPEG no larger than `budget` bytes.

    Returns (jpeg, width, height, passes). Each pass that is still too big
    lowers the quality, aiming under the budget (JPEG size falls more slowly
    than quality, hence the margin); at MIN_QUALITY the image is shrunk
    instead. It stops only when the bytes fit, so the result always does.
    """
    _, cv2 = _cv()
    img = image
    q = quality
    for passes in range(1, MAX_FIT_PASSES + 1):
        data = encode_jpeg(img, q)
        if len(data) <= budget:
            return data, img.shape[1], img.shape[0], passes
        ratio = budget / len(data)
        if q > MIN_QUALITY:
            q = max(MIN_QUALITY, min(q - 5, int(q * ratio * 0.9)))
        else:
            f = min(0.9, max(0.25, (ratio ** 0.5) * 0.95))
            w, h = img.shape[1], img.shape[0]
            if w == 1 and h == 1:
                break
            img = cv2.resize(img, (max(1, int(w * f)), max(1, int(h * f))),
                             interpolation=cv2.INTER_AREA)
    raise ValueError("could not fit the frame into %d bytes" % budget)


def fit_jpeg_bytes(jpeg, quality=DEFAULT_QUALITY, budget=MAX_JPEG_BYTES):
    """JPEG bytes under the budget: passed through when they fit, else
    decoded and re-encoded by fit_jpeg(). Returns (jpeg, width, height)."""
    if len(jpeg) <= budget:
        w, h = jpeg_size(jpeg)
        return jpeg, w, h
    data, w, h, _ = fit_jpeg(decode_image(jpeg), quality, budget)
    return data, w, h


# -- the binary frame (docs/protocol.md §4.13) ---------------------------------

def truncate_utf8(s, limit=MAX_ID_BYTES):
    """UTF-8 bytes of s, cut to at most `limit` bytes on a character boundary."""
    b = s.encode("utf-8")
    if len(b) <= limit:
        return b
    return b[:limit].decode("utf-8", "ignore").encode("utf-8")


def build_frame(source_id, camera_id, width, height, timestamp_ms, jpeg):
    """The binary WebSocket message for one frame, byte for byte as docs/protocol.md §4.13."""
    sid = truncate_utf8(source_id)
    cam = truncate_utf8(camera_id)
    try:
        nums = HEADER_STRUCT.pack(width, height, timestamp_ms)
    except struct.error:
        raise ValueError("width/height must fit uint32 and timestamp int64: %r, %r, %r"
                         % (width, height, timestamp_ms)) from None
    return b"".join((bytes((FRAME_VERSION, len(sid))), sid, bytes((len(cam),)), cam, nums, jpeg))


def parse_frame(data):
    """A binary video message -> dict(source_id, camera_id, width, height,
    timestamp, jpeg). Raises ValueError when the version is not 1 or the
    message is cut short (a gateway drops those)."""
    n = len(data)
    if n < 2 or data[0] != FRAME_VERSION:
        raise ValueError("not a version-1 video frame")
    s = data[1]
    if n < 3 + s:
        raise ValueError("video frame cut short in source_id")
    c = data[2 + s]
    o = 3 + s + c
    if n < o + HEADER_STRUCT.size:
        raise ValueError("video frame cut short in its header")
    w, h, ts = HEADER_STRUCT.unpack_from(data, o)
    return {"source_id": bytes(data[2:2 + s]).decode("utf-8", "replace"),
            "camera_id": bytes(data[3 + s:o]).decode("utf-8", "replace"),
            "width": w, "height": h, "timestamp": ts,
            "jpeg": bytes(data[o + HEADER_STRUCT.size:])}


# -- frames handed from the caller to the sender thread ------------------------

class _Jpeg:
    """JPEG bytes checked on the caller's thread; re-encoded later only if too big."""
    __slots__ = ("data", "quality", "timestamp")

    def __init__(self, data, quality, timestamp):
        self.data, self.quality, self.timestamp = data, quality, timestamp

    def encode(self, budget):
        return fit_jpeg_bytes(self.data, self.quality, budget)


class _Image:
    """A private copy of an array frame; encoded on the sender thread."""
    __slots__ = ("image", "quality", "timestamp")

    def __init__(self, image, quality, timestamp):
        self.image, self.quality, self.timestamp = image, quality, timestamp

    def encode(self, budget):
        data, w, h, _ = fit_jpeg(self.image, self.quality, budget)
        return data, w, h


def prepare_frame(frame, quality, timestamp, budget=MAX_JPEG_BYTES):
    """Everything that can be wrong with a frame, raised on the caller's thread."""
    nd = _ndarray_type()
    if nd is not None and isinstance(frame, nd):
        return _Image(as_bgr_image(frame), quality, timestamp)
    if isinstance(frame, (bytes, bytearray, memoryview)):
        data = bytes(frame)
        if not data:
            raise ValueError("frame is empty bytes; pass JPEG/PNG bytes or a numpy array")
        if data[:2] == SOI:
            w, h = jpeg_size(data)
            if w == 0 or h == 0:
                raise ValueError("JPEG frame header says %d×%d; pass a JPEG with its size "
                                 "in the header" % (w, h))
            if data.rfind(EOI) < 0:
                raise ValueError("JPEG frame is cut off (no FF D9 end marker)")
            if len(data) > budget:
                _cv()       # re-encoding will need OpenCV: say so now, not later
            return _Jpeg(data, quality, timestamp)
        return _Image(decode_image(data), quality, timestamp)
    if isinstance(frame, str):
        raise TypeError("frame is a str; pass the image itself: a numpy array, or bytes "
                        "(e.g. open(path, 'rb').read())")
    raise TypeError("frame must be a numpy array (H×W×3 BGR or H×W gray) or image bytes "
                    "(JPEG, PNG, ...), got %s" % type(frame).__name__)


def _check_camera_id(camera_id):
    if not isinstance(camera_id, str) or not camera_id:
        raise ValueError("camera_id must be a non-empty string such as 'camera:0', got %r"
                         % (camera_id,))
    return camera_id


# -- latest-frame-wins sender --------------------------------------------------

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
        _check_camera_id(camera_id)
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
        _check_camera_id(camera_id)
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


# -- MJPEG splitting -----------------------------------------------------------

_SEEK, _SEGMENTS, _ENTROPY = 0, 1, 2


class MjpegSplitter:
    """Splits a byte stream of concatenated JPEGs into whole JPEGs.

    It follows the JPEG marker structure instead of searching for FF D9, so an
    EXIF thumbnail (a JPEG inside a JPEG) or an FF D9 pair in a header does
    not cut a frame; bytes between frames (multipart headers, garbage) are
    skipped; a frame cut short by a new FF D8 is dropped; a frame that grows
    past max_frame_bytes is dropped, so memory stays bounded.
    """

    def __init__(self, max_frame_bytes=MAX_MJPEG_FRAME_BYTES):
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._pos = 0
        self._state = _SEEK
        self.frames = 0
        self.bad_frames = 0          # started but dropped (cut short, corrupt, too big)
        self.skipped_bytes = 0       # bytes not in any frame returned

    def feed(self, chunk):
        """Add bytes; returns the list of JPEGs completed by them."""
        self._buf += chunk
        out = []
        while self._step(out):
            pass
        if self._state != _SEEK and len(self._buf) > self.max_frame_bytes:
            self._resync(1)
        return out

    def _resync(self, start):
        """Drop the frame being read; look for the next SOI from `start`."""
        self.bad_frames += 1
        self._state = _SEEK
        self._skip(start)

    def _skip(self, n):
        self.skipped_bytes += n
        del self._buf[:n]
        self._pos = 0

    def _step(self, out):
        buf = self._buf
        n = len(buf)
        if self._state == _SEEK:
            k = buf.find(SOI)
            if k < 0:
                keep = 1 if n and buf[-1] == 0xFF else 0
                self._skip(n - keep)
                return False
            if k + 2 >= n:
                self._skip(k)
                return False
            if buf[k + 2] != 0xFF:          # FF D8 not followed by a marker: not a JPEG
                self._skip(k + 1)
                return True
            self._skip(k)
            self._pos = 2
            self._state = _SEGMENTS
            return True
        p = self._pos
        if self._state == _ENTROPY:
            while True:
                k = buf.find(b"\xff", p)
                if k < 0 or k + 1 >= n:
                    self._pos = n if k < 0 else k
                    return False
                m = buf[k + 1]
                if m == 0x00 or 0xD0 <= m <= 0xD7:
                    p = k + 2               # stuffed byte or restart marker
                elif m == 0xFF:
                    p = k + 1               # fill byte
                else:
                    self._pos = k
                    self._state = _SEGMENTS
                    return True
        # _SEGMENTS: a marker is due at p
        if p >= n:
            return False
        if buf[p] != 0xFF:
            self._resync(1)
            return True
        while p < n and buf[p] == 0xFF:
            p += 1
        if p >= n:
            return False
        m = buf[p]
        if m == 0xD9:
            end = p + 1
            out.append(bytes(buf[:end]))
            self.frames += 1
            del buf[:end]
            self._pos = 0
            self._state = _SEEK
            return True
        if m == 0xD8:                       # a new frame starts inside this one
            self._resync(p - 1)
            return True
        if _standalone(m):
            self._pos = p + 1
            return True
        if p + 3 > n:
            return False
        seg = (buf[p + 1] << 8) | buf[p + 2]
        if seg < 2:
            self._resync(1)
            return True
        self._pos = p + 1 + seg
        if m == 0xDA:
            self._state = _ENTROPY
        return True


def _reader(pipe):
    """A read(n) that returns what is available instead of waiting for n bytes."""
    if isinstance(pipe, int):
        return lambda n: os.read(pipe, n)
    return getattr(pipe, "read1", None) or pipe.read


def read_mjpeg_frames(pipe, chunk_size=65536, max_frame_bytes=MAX_MJPEG_FRAME_BYTES):
    """Yield each JPEG (bytes) of an MJPEG stream read from a pipe, file or fd."""
    read = _reader(pipe)
    splitter = MjpegSplitter(max_frame_bytes)
    while True:
        chunk = read(chunk_size)
        if not chunk:
            return
        for frame in splitter.feed(chunk):
            yield frame


# -- FFmpeg camera streams -----------------------------------------------------

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
            _say(self.error)
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
