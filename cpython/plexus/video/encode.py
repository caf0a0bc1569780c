"""Frames to JPEG bytes that fit the frame budget (docs/protocol.md §4.13).

JPEG bytes pass through without any dependency (their size is read from the
frame header). Arrays, other image formats and re-encoding need OpenCV and
numpy: pip install opencv-python-headless numpy.
"""

import sys

from plexus_core.videoframe import MAX_JPEG_BYTES

DEFAULT_QUALITY = 85
MIN_QUALITY = 30               # below this JPEG turns to blocks: shrink the image instead
MAX_FIT_PASSES = 24
MAX_JPEG_SIDE = 65535          # JPEG stores width and height in 16 bits

EXTRA_HINT = "pip install opencv-python-headless numpy"

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"


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


def standalone_marker(m):
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
        if standalone_marker(m) and m != 0xD9:
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

