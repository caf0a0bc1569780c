"""Flash log behaviour on a littlefs2 RAM flash, run inside MicroPython
(tests/board/test_flashlog.py drives it through tests/micropython/run.py)."""

import json
import os

import vfs
from flashsim import Flash, mkfs, mount, read_segment
from plexus_board.flashlog import FlashLog

_n = [0]


def fresh(blocks=32, progsize=None):
    """A newly formatted flash mounted at a new mount point."""
    _n[0] += 1
    point = "/t%d" % _n[0]
    flash = Flash(blocks)
    mkfs(flash, progsize)
    mount(flash, point, progsize)
    return flash, point


def reboot(flash, point, progsize=None):
    vfs.umount(point)
    mount(flash, point, progsize)


def reading(i, pad=0):
    return '{"class":"metric","metric":"temp","value":%d,"timestamp":%d%s}' % (
        i, 1760000000000 + i, "" if not pad else ',"tags":{"p":"%s"}' % ("x" * pad))


def payload_values(log, seq):
    bid, payload, n = read_segment(log, seq)
    pts = json.loads("[" + bytes(payload).decode() + "]")
    assert len(pts) == n
    return [p["value"] for p in pts]


def test_readings_fill_block_sized_segments_in_order():
    flash, point = fresh()
    log = FlashLog(point + "/px")
    for i in range(500):
        log.add(reading(i))
    assert log.staged > 0 and len(log.seqs) >= 6
    log.seal()
    assert log.staged == 0 and log.points() == log.stored == 500
    values = []
    for seq in log.seqs:
        assert os.stat("%s/px/%08x.seg" % (point, seq))[6] <= 4096
        values.extend(payload_values(log, seq))
    assert values == list(range(500))


def test_recovery_keeps_order_batch_ids_and_counts_across_a_reboot():
    flash, point = fresh()
    log = FlashLog(point + "/px")
    for i in range(300):
        log.add(reading(i))
    log.seal()
    ids = [read_segment(log, s)[0] for s in log.seqs]
    log.add(reading(999))  # staged in RAM only: lost with the reboot
    reboot(flash, point)
    log2 = FlashLog(point + "/px")
    assert log2.points() == 300 and log2.discarded == 0
    assert [read_segment(log2, s)[0] for s in log2.seqs] == ids  # same ids: a resend is recognised
    assert log2.prefix != log.prefix
    log2.add(reading(1000))
    seq = log2.seal()
    assert seq > max(log.seqs) and read_segment(log2, seq)[0].startswith(log2.prefix)


def test_acknowledged_segments_are_deleted():
    flash, point = fresh()
    log = FlashLog(point + "/px")
    for i in range(200):
        log.add(reading(i))
    log.seal()
    first = log.seqs[0]
    n0 = log.npts[0]
    log.delete(first)
    log.delete(first)  # twice is harmless (an ack for an evicted segment)
    assert log.points() == 200 - n0 and first not in log.seqs
    reboot(flash, point)
    assert FlashLog(point + "/px").points() == 200 - n0


def test_corrupt_and_torn_segments_are_discarded_and_counted():
    flash, point = fresh()
    log = FlashLog(point + "/px")
    for i in range(300):
        log.add(reading(i))
    log.seal()
    a, b, c = log.seqs[0], log.seqs[1], log.seqs[2]
    with open("%s/px/%08x.seg" % (point, a), "r+b") as f:  # flip one payload bit
        f.seek(100)
        x = f.read(1)
        f.seek(100)
        f.write(bytes([x[0] ^ 1]))
    with open("%s/px/%08x.seg" % (point, b), "rb") as f:
        data = f.read()
    with open("%s/px/%08x.seg" % (point, b), "wb") as f:  # torn: cut short
        f.write(data[:len(data) // 2])
    with open("%s/px/%08x.seg" % (point, c), "wb") as f:  # created, never written
        pass
    reboot(flash, point)
    log2 = FlashLog(point + "/px")
    assert log2.discarded == 3
    assert a not in log2.seqs and b not in log2.seqs and c not in log2.seqs
    assert len(os.listdir(point + "/px")) == len(log2.seqs)
    for seq in log2.seqs:
        payload_values(log2, seq)


def test_a_segment_corrupted_after_recovery_is_not_delivered():
    flash, point = fresh()
    log = FlashLog(point + "/px")
    for i in range(100):
        log.add(reading(i))
    seq = log.seal()
    with open("%s/px/%08x.seg" % (point, seq), "r+b") as f:
        f.seek(50)
        f.write(b"#")
    assert read_segment(log, seq) is None and log.discarded == 1 and seq not in log.seqs


def test_full_log_evicts_oldest_and_counts_it():
    flash, point = fresh()
    log = FlashLog(point + "/px", segment_bytes=1024, max_segments=4)
    for i in range(400):
        log.add(reading(i))
    log.seal()
    assert len(log.seqs) == 4
    assert log.evicted > 0 and log.evicted + log.points() == 400
    last = payload_values(log, log.seqs[-1])
    assert last[-1] == 399  # the newest are kept


def test_a_reading_bigger_than_a_segment_goes_alone():
    flash, point = fresh()
    log = FlashLog(point + "/px", segment_bytes=512)
    log.add(reading(1))
    log.add(reading(2, pad=900))
    log.add(reading(3))
    log.seal()
    assert log.npts == [1, 1, 1]
    assert [payload_values(log, s)[0] for s in log.seqs] == [1, 2, 3]


def test_a_full_filesystem_evicts_to_make_room():
    flash, point = fresh(blocks=12)
    log = FlashLog(point + "/px", max_segments=1000)
    for i in range(2000):
        log.add(reading(i))
    log.seal()
    assert log.evicted > 0
    assert log.evicted + log.points() == 2000
    assert payload_values(log, log.seqs[-1])[-1] == 1999


def test_progsize_256_round_trip():
    flash, point = fresh(progsize=256)
    log = FlashLog(point + "/px")
    for i in range(300):
        log.add(reading(i))
    log.seal()
    reboot(flash, point, 256)
    log2 = FlashLog(point + "/px")
    assert log2.points() == 300
    values = []
    for s in log2.seqs:
        values.extend(payload_values(log2, s))
    assert values == list(range(300))


def test_bad_settings_are_refused_with_the_fix():
    flash, point = fresh()
    for kw in ({"segment_bytes": 100}, {"segment_bytes": "4k"}, {"max_segments": 1}):
        try:
            FlashLog(point + "/px", **kw)
        except ValueError as e:
            assert list(kw)[0] in str(e)
        else:
            raise AssertionError("accepted %r" % kw)
