"""Splitting an MJPEG byte stream into JPEGs, whatever the chunk boundaries."""

import io
import os
import threading

from hypothesis import given, settings, strategies as st

from plexus import video
from videokit import gradient, jpeg, noise, with_exif_thumbnail

FRAMES = [
    jpeg(gradient(160, 120, seed=1)),
    jpeg(noise(96, 64, seed=2), progressive=True),      # several scans (SOS) per frame
    with_exif_thumbnail(jpeg(gradient(64, 48, seed=3)), jpeg(gradient(16, 12, seed=4))),
    jpeg(noise(80, 80, seed=5), 100),                    # many FF 00 stuffed bytes
]


def split(chunks, **kw):
    s = video.MjpegSplitter(**kw)
    out = []
    for c in chunks:
        out += s.feed(c)
    return out, s


def test_concatenated_frames_come_back_whole():
    out, s = split([b"".join(FRAMES)])
    assert out == FRAMES and s.frames == 4 and s.bad_frames == 0 and s.skipped_bytes == 0


def test_byte_by_byte_feeding():
    data = b"".join(FRAMES)
    out, _ = split([data[i:i + 1] for i in range(len(data))])
    assert out == FRAMES


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=40))
def test_any_chunk_boundaries(sizes):
    data = b"".join(FRAMES) * 2
    chunks, i = [], 0
    while i < len(data):
        n = sizes[len(chunks) % len(sizes)]
        chunks.append(data[i:i + n])
        i += n
    out, _ = split(chunks)
    assert out == FRAMES * 2


def test_thumbnail_end_marker_does_not_cut_the_frame():
    # A naive search for FF D9 would end the frame inside the EXIF thumbnail.
    f = FRAMES[2]
    assert f.find(b"\xff\xd9") < len(f) - 2
    out, _ = split([f, f])
    assert out == [f, f]


def test_garbage_and_multipart_headers_between_frames_are_skipped():
    part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 123\r\n\r\n"
    data = b"\x00\xff\xd8junk" + part + FRAMES[0] + b"\r\n" + part + FRAMES[1] + b"\xff\xff"
    out, s = split([data])
    assert out == FRAMES[:2] and s.skipped_bytes > len(part)


def test_a_frame_cut_short_by_the_next_frame_is_dropped():
    cut = FRAMES[0][: len(FRAMES[0]) // 2]
    out, s = split([cut + FRAMES[1] + FRAMES[3]])
    assert out == [FRAMES[1], FRAMES[3]] and s.bad_frames == 1


def test_fill_bytes_before_markers_are_allowed():
    f = FRAMES[0]
    padded = f[:-2] + b"\xff\xff\xff" + f[-2:]
    out, _ = split([padded])
    assert out == [padded]


def test_a_runaway_frame_is_dropped_and_memory_stays_bounded():
    s = video.MjpegSplitter(max_frame_bytes=20000)
    endless = FRAMES[0][:600] + b"\x11" * 5000
    out = s.feed(endless)
    for _ in range(20):
        out += s.feed(b"\x22" * 5000)
        assert len(s._buf) <= 20000 + 5000
    out += s.feed(FRAMES[1])
    assert out == [FRAMES[1]] and s.bad_frames == 1


def test_read_from_a_real_pipe_returns_frames_as_they_arrive():
    # Each frame must come out as soon as it is written, not after 64 KiB.
    r, w = os.pipe()
    got = []
    with os.fdopen(r, "rb", buffering=io.DEFAULT_BUFFER_SIZE) as pipe:
        frames = iter(video.read_mjpeg_frames(pipe))
        for f in FRAMES:
            os.write(w, f)
            got.append(next(frames))       # would hang if the reader waited for more
        os.close(w)
        assert list(frames) == []
    assert got == FRAMES


def test_read_from_a_file_descriptor_and_a_truncated_tail():
    r, w = os.pipe()
    data = b"".join(FRAMES) + FRAMES[0][:100]

    def writer():
        os.write(w, data)
        os.close(w)

    t = threading.Thread(target=writer)
    t.start()
    out = list(video.read_mjpeg_frames(r))
    t.join()
    os.close(r)
    assert out == FRAMES
