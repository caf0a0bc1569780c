import json

from plexus_core import batch
from plexus_core.points import make_point, encode_point
from plexus_core.limits import FRAME_ENVELOPE_BYTES


def enc(i, pad=0):
    return encode_point(make_point("m", i, 1760000000000 + i, {"p": "x" * pad} if pad else None))


def test_split_by_count():
    pts = [enc(i) for i in range(25)]
    parts = batch.split(pts, max_points=10, max_bytes=10 ** 6)
    assert [len(p) for p in parts] == [10, 10, 5]
    assert [e for p in parts for e in p] == pts  # order kept, nothing lost


def test_split_by_bytes_counts_frame_exactly():
    pts = [enc(i, 60) for i in range(30)]
    limit = 1200
    parts = batch.split(pts, max_points=10000, max_bytes=limit)
    assert len(parts) > 1
    for i, p in enumerate(parts):
        frame = batch.telemetry_frame(p, 32767, "abcdef01-99999999")
        assert len(frame.encode()) <= limit, (i, len(frame))
    assert [e for p in parts for e in p] == pts


def test_single_oversized_point_goes_alone():
    big = enc(1, 250)
    parts = batch.split([big, big], max_points=10, max_bytes=FRAME_ENVELOPE_BYTES + 10)
    assert [len(p) for p in parts] == [1, 1]


def test_utf8_bytes_counted():
    p = encode_point(make_point("m", "é" * 100, 1760000000000))
    assert batch.nbytes(p) >= 200 or "\\u00e9" in p
    assert batch.nbytes(p) == len(p.encode())


def test_frames_parse():
    pts = [enc(1), enc(2)]
    f = json.loads(batch.telemetry_frame(pts, 3, "b-1"))
    assert f["type"] == "telemetry" and f["seq"] == 3 and f["batch_id"] == "b-1"
    assert [p["value"] for p in f["points"]] == [1, 2]
    f = json.loads(batch.telemetry_frame(pts))
    assert "seq" not in f and "batch_id" not in f
    b = json.loads(batch.ingest_body("pump-07", [p.encode() for p in pts], "b-2"))
    assert b["source_id"] == "pump-07" and b["batch_id"] == "b-2" and len(b["points"]) == 2


def test_builder():
    b = batch.BatchBuilder(max_points=2, max_bytes=10 ** 6)
    assert b.add("1") and b.add("2") and not b.add("3")
    assert len(b) == 2
    assert b.take() == ["1", "2"] and len(b) == 0
