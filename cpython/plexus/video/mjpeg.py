"""Splitting an MJPEG byte stream (FFmpeg's image2pipe output) into whole JPEGs."""

import os

from plexus.video.encode import SOI, standalone_marker

MAX_MJPEG_FRAME_BYTES = 16 * 1024 * 1024

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
        if standalone_marker(m):
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

