"""Helpers shared by the video tests: synthetic images and JPEGs, waiting."""

import struct

import cv2
import numpy as np

from support.waiting import wait_for  # noqa: F401  (re-exported for the video tests)


def gradient(w=320, h=240, seed=0):
    """A smooth BGR test picture (compresses well, like a real scene)."""
    x = np.linspace(0, 255, w, dtype=np.float32)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    img = np.empty((h, w, 3), np.uint8)
    img[:, :, 0] = (x + seed) % 256
    img[:, :, 1] = (y + 2 * seed) % 256
    img[:, :, 2] = ((x + y) / 2 + 3 * seed) % 256
    return img


def noise(w, h, seed=1):
    """Random pixels: the worst case for JPEG size."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def jpeg(img, quality=85, progressive=False):
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    if progressive:
        params += [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    ok, buf = cv2.imencode(".jpg", img, params)
    assert ok
    return buf.tobytes()


def png(img):
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def decode(data):
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, "not a decodable image"
    return img


def with_exif_thumbnail(main, thumb):
    """`main` with an APP1 segment holding a whole JPEG thumbnail (as cameras
    write EXIF): a second FF D8 ... FF D9 inside the first JPEG."""
    body = b"Exif\x00\x00" + thumb
    seg = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return main[:2] + seg + main[2:]


