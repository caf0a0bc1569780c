"""The binary video frame of docs/protocol.md §4.13, built by the client and
read by the gateway: one layout in one place.

    version (1) | len(source_id) (1) | source_id | len(camera_id) (1) | camera_id
    | width (uint32 BE) | height (uint32 BE) | timestamp ms (int64 BE) | JPEG bytes

Plain struct and bytes, so MicroPython can import it too (no struct.Struct,
and struct there does not check ranges: they are checked here).
"""

import struct

FRAME_VERSION = 1
MAX_ID_BYTES = 255             # source_id / camera_id length fields are one byte
MAX_JPEG_BYTES = 750000        # the budget for the JPEG part of one frame
HEADER_FORMAT = ">IIq"         # width, height, timestamp_ms
HEADER_SIZE = 16

_UINT32_END = 1 << 32
_INT64_END = 1 << 63


def truncate_utf8(s, limit=MAX_ID_BYTES):
    """UTF-8 bytes of s, cut to at most `limit` bytes on a character boundary."""
    b = s.encode("utf-8")
    if len(b) <= limit:
        return b
    i = limit
    while i > 0 and b[i] & 0xC0 == 0x80:   # b[i] continues a character: cut before it
        i -= 1
    return b[:i]


def _fits(width, height, timestamp_ms):
    for v in (width, height, timestamp_ms):
        if not isinstance(v, int):
            return False
    return 0 <= width < _UINT32_END and 0 <= height < _UINT32_END and -_INT64_END <= timestamp_ms < _INT64_END


def build_frame(source_id, camera_id, width, height, timestamp_ms, jpeg):
    """The binary WebSocket message for one frame, byte for byte as docs/protocol.md §4.13."""
    if not _fits(width, height, timestamp_ms):
        raise ValueError("width/height must fit uint32 and timestamp int64: %r, %r, %r"
                         % (width, height, timestamp_ms))
    sid = truncate_utf8(source_id)
    cam = truncate_utf8(camera_id)
    nums = struct.pack(HEADER_FORMAT, width, height, timestamp_ms)
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
    if n < o + HEADER_SIZE:
        raise ValueError("video frame cut short in its header")
    w, h, ts = struct.unpack_from(HEADER_FORMAT, data, o)
    # A bad UTF-8 id is replaced on CPython (MicroPython raises UnicodeError, a ValueError).
    return {"source_id": bytes(data[2:2 + s]).decode("utf-8", "replace"),
            "camera_id": bytes(data[3 + s:o]).decode("utf-8", "replace"),
            "width": w, "height": h, "timestamp": ts, "jpeg": bytes(data[o + HEADER_SIZE:])}
