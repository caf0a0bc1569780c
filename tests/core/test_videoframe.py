"""The binary video frame of docs/protocol.md §4.13: the layout the client
builds and the gateway reads, on CPython and inside MicroPython."""

from plexus_core.videoframe import build_frame, parse_frame, truncate_utf8
from check import message, raises


def test_frame_bytes_match_the_protocol_example():
    f = build_frame("cam-rig-2", "front", 640, 480, 1760000000123, b"\xff\xd8..\xff\xd9")
    want = (b"\x01\x09" + b"cam-rig-2" + b"\x05" + b"front"
            + b"\x00\x00\x02\x80\x00\x00\x01\xe0\x00\x00\x01\x99\xc8\x2c\xc0\x7b" + b"\xff\xd8..\xff\xd9")
    assert f == want


def test_parse_frame_round_trip():
    f = build_frame("rig", "camera:0", 1, 65536, 2 ** 62, b"JPEG")
    assert parse_frame(f) == {"source_id": "rig", "camera_id": "camera:0", "width": 1,
                              "height": 65536, "timestamp": 2 ** 62, "jpeg": b"JPEG"}
    p = parse_frame(memoryview(build_frame("s", "c", 4294967295, 0, -(2 ** 63), b"")))
    assert (p["width"], p["height"], p["timestamp"], p["jpeg"]) == (4294967295, 0, -(2 ** 63), b"")


def test_ids_are_truncated_to_255_bytes_on_a_character_boundary():
    cam = "é" * 200                      # 400 bytes, two per character
    f = build_frame("s", cam, 1, 1, 1, b"")
    assert f[3] == 254                   # 255 would split the 128th "é"
    assert parse_frame(f)["camera_id"] == "é" * 127
    sid = "a" + "€" * 100                # 1 + 300 bytes, three per character
    assert parse_frame(build_frame(sid, "c", 1, 1, 1, b""))["source_id"] == "a" + "€" * 84
    assert truncate_utf8("x" * 255) == b"x" * 255
    assert truncate_utf8("🙂" * 64) == "🙂".encode("utf-8") * 63     # 4-byte characters


def test_out_of_range_header_fields_raise():
    for w, h, ts in ((-1, 1, 1), (1, 2 ** 32, 1), (1, 1, 2 ** 63), (1, 1, -(2 ** 63) - 1), (1.0, 1, 1),
                     (1, 1, "now")):
        e = raises(ValueError, build_frame, "s", "c", w, h, ts, b"")
        assert "uint32" in message(e), (w, h, ts)


def test_cut_or_wrong_version_frames_are_refused():
    for data in (b"", b"\x01", b"\x02\x00\x00", b"\x01\x05ab", b"\x01\x01a\x01b\x00\x00",
                 build_frame("s", "c", 1, 1, 1, b"")[:-1]):
        raises(ValueError, parse_frame, data)
