"""JPEG headers, encoding and the 750,000-byte budget of docs/protocol.md §4.13 (the binary
frame's layout is the core's: tests/core/test_videoframe.py)."""

import numpy as np
import pytest

from plexus import video
from videokit import decode, gradient, jpeg, noise, png, with_exif_thumbnail


# -- JPEG header parsing -------------------------------------------------------------

@pytest.mark.parametrize("w,h", [(1, 1), (320, 240), (1920, 1080), (17, 301)])
def test_jpeg_size_reads_the_frame_header(w, h):
    assert video.jpeg_size(jpeg(gradient(w, h))) == (w, h)
    assert video.jpeg_size(jpeg(gradient(w, h), progressive=True)) == (w, h)


def test_jpeg_size_skips_an_embedded_thumbnail():
    main = jpeg(gradient(640, 480))
    assert video.jpeg_size(with_exif_thumbnail(main, jpeg(gradient(64, 48)))) == (640, 480)


@pytest.mark.parametrize("data,msg", [
    (b"\x89PNG\r\n\x1a\n", "not a JPEG"),
    (b"\xff\xd8\xff\xe0\x00", "cut off"),
    (b"\xff\xd8\xff\xda\x00\x08", "no frame header"),
    (b"\xff\xd8\x00\x00\x00", "corrupt"),
])
def test_jpeg_size_errors(data, msg):
    with pytest.raises(ValueError, match=msg):
        video.jpeg_size(data)


# -- preparing frames on the caller's thread -----------------------------------------

def test_arrays_of_every_supported_shape_encode_with_their_size():
    for arr in (gradient(64, 48), gradient(64, 48)[:, :, 0], gradient(64, 48)[:, :, :1],
                np.dstack([gradient(64, 48), np.full((48, 64), 255, np.uint8)]),
                gradient(128, 48)[:, ::2]):          # a non-contiguous view
        data, w, h = video.prepare_frame(arr, 85, 1).encode(video.MAX_JPEG_BYTES)
        assert (w, h) == (64, 48) == video.jpeg_size(data)
        assert decode(data).shape == (48, 64, 3)


def test_array_is_copied_so_the_caller_may_reuse_it():
    arr = gradient(64, 48)
    item = video.prepare_frame(arr, 90, 1)
    arr[:] = 0
    img = decode(item.encode(video.MAX_JPEG_BYTES)[0])
    assert img.mean() > 50              # the gradient, not the zeroed buffer


def test_jpeg_bytes_pass_through_unchanged():
    data = jpeg(gradient(320, 240))
    for given in (data, bytearray(data), memoryview(data)):
        out, w, h = video.prepare_frame(given, 85, 1).encode(video.MAX_JPEG_BYTES)
        assert out == data and (w, h) == (320, 240)


def test_other_image_bytes_are_re_encoded_as_jpeg():
    img = gradient(200, 100)
    out, w, h = video.prepare_frame(png(img), 95, 1).encode(video.MAX_JPEG_BYTES)
    assert out[:2] == b"\xff\xd8" and (w, h) == (200, 100)
    assert np.abs(decode(out).astype(int) - img).mean() < 3


@pytest.mark.parametrize("frame,err,msg", [
    (np.zeros((4, 4, 3), np.float32), ValueError, r"dtype is float32.*\* 255"),
    (np.zeros((4, 4, 3), np.uint16), ValueError, r"dtype is uint16.*>> 8"),
    (np.zeros((4, 4), bool), ValueError, "dtype is bool"),
    (np.zeros((4, 4, 2), np.uint8), ValueError, r"shape is \(4, 4, 2\)"),
    (np.zeros((4,), np.uint8), ValueError, "shape"),
    (np.zeros((0, 4, 3), np.uint8), ValueError, "empty"),
    (b"", ValueError, "empty bytes"),
    (b"hello, not a picture", ValueError, "not an image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", ValueError, "cut off"),
    (jpeg(gradient(32, 32))[:-200], ValueError, "cut off"),
    ("frame.jpg", TypeError, "open\\(path, 'rb'\\)"),
    ([[1, 2], [3, 4]], TypeError, "numpy array"),
    (None, TypeError, "got NoneType"),
])
def test_bad_frames_raise_clear_errors(frame, err, msg):
    with pytest.raises(err, match=msg):
        video.prepare_frame(frame, 85, 1)


def test_quality_must_be_1_to_100():
    for q in (0, 101, 85.0, True, "85"):
        with pytest.raises(ValueError, match="quality"):
            video.check_quality(q)
    assert video.check_quality(1) == 1


# -- fitting the budget ----------------------------------------------------------------

def test_a_frame_that_fits_is_encoded_once_at_the_asked_quality():
    img = gradient(640, 480)
    data, w, h, passes = video.fit_jpeg(img, 85)
    assert passes == 1 and data == jpeg(img, 85) and (w, h) == (640, 480)


def test_oversized_4k_noise_fits_the_real_budget_and_says_its_real_size():
    data, w, h, passes = video.fit_jpeg(noise(3840, 2160), 85)
    assert len(data) <= video.MAX_JPEG_BYTES
    assert passes > 1
    assert video.jpeg_size(data) == (w, h) and decode(data).shape[:2] == (h, w)


def test_fitting_keeps_going_where_one_proportional_pass_would_not_fit():
    img = noise(640, 480)
    budget = 40000
    first = len(jpeg(img, 85))
    blind_q = max(10, int(85 * budget / first))          # the one-pass rule of docs/protocol.md §4.13
    assert len(jpeg(img, blind_q)) > budget               # ...which misses the budget here
    data, w, h, passes = video.fit_jpeg(img, 85, budget)
    assert len(data) <= budget and passes > 2
    assert (w, h) == video.jpeg_size(data) and (w, h) != (640, 480)   # shrunk, size reported


def test_fitting_lowers_quality_before_it_shrinks_the_picture():
    img = gradient(1280, 720, seed=7)
    full = len(jpeg(img, 95))
    data, w, h, passes = video.fit_jpeg(img, 95, int(full * 0.6))
    assert passes > 1 and (w, h) == (1280, 720)


def test_oversized_jpeg_bytes_are_re_encoded_to_fit():
    big = jpeg(noise(1920, 1080), 100)
    assert len(big) > video.MAX_JPEG_BYTES
    out, w, h = video.prepare_frame(big, 85, 1).encode(video.MAX_JPEG_BYTES)
    assert len(out) <= video.MAX_JPEG_BYTES and video.jpeg_size(out) == (w, h)


def test_frame_with_header_stays_under_the_websocket_limit():
    from plexus_core.limits import WS_READ_LIMIT
    data, w, h, _ = video.fit_jpeg(noise(3840, 2160), 100)
    f = video.build_frame("s" * 300, "c" * 300, w, h, 1, data)
    assert len(f) < WS_READ_LIMIT
