"""send() -> store: cutting into frames and the committer thread (real SQLite)."""

import json
import threading

from plexus.alerts import Alerts
from plexus.intake import Intake, cut
from plexus.store import MemoryStore, SqliteStore
from plexus_core import batch
from plexus_core.limits import WS_FRAME_TARGET
from plexus_core.points import encode_point, make_point


def enc(i, pad=0):
    return encode_point(make_point("m", i, 1760000000000 + i, {"p": "x" * pad} if pad else None))


def test_cut_by_count_keeps_order():
    pts = [enc(i) for i in range(25)]
    out = cut(pts, max_points=10)
    assert [n for n, _ in out] == [10, 10, 5]
    assert ",".join(d for _, d in out) == ",".join(pts)


def test_cut_by_bytes_every_frame_fits():
    pts = [enc(i, 250) for i in range(12000)]
    out = cut(pts)
    assert len(out) > 2 and sum(n for n, _ in out) == 12000
    for n, data in out:
        frame = batch.telemetry_frame([data], 2 ** 31, "x" * 64)
        assert len(frame.encode()) <= WS_FRAME_TARGET
        assert len(json.loads(frame)["points"]) == n


def test_readings_reach_the_store_without_any_explicit_flush(tmp_path):
    store = SqliteStore(tmp_path / "b.db")
    woke = threading.Event()
    handed = []

    def committed(rows):
        handed.extend(rows)
        woke.set()
    it = Intake(store, Alerts(), linger_ms=5, on_committed=committed)
    for i in range(100):
        it.put(enc(i))
    assert woke.wait(30)
    deadline = 30
    while (store.points < 100 or it.waiting()) and deadline > 0:
        woke.clear()
        woke.wait(0.5)
        deadline -= 0.5
    assert store.points == 100 and it.waiting() == 0
    # What the committer hands over (for sending from memory) is what it wrote.
    assert handed == store.rows(limit=10 ** 6)
    it.close()
    store.close()


def test_persist_commits_now_and_batches_respect_capacity(tmp_path):
    store = MemoryStore(max_points=400)
    it = Intake(store, Alerts(), linger_ms=60000)  # only persist() can commit in time
    assert it.batch_points == 100
    it.put_many([enc(i) for i in range(250)])
    assert it.persist(30)
    assert store.points == 250 and [r[2] for r in store.rows()] == [100, 100, 50]
    it.close()


def test_many_threads_send_concurrently_nothing_lost_or_doubled(tmp_path):
    store = SqliteStore(tmp_path / "b.db")
    it = Intake(store, Alerts(), linger_ms=2)

    def worker(t):
        for i in range(2000):
            it.put(enc(t * 100000 + i))
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert it.persist(60)
    got = [p["value"] for r in store.rows(limit=10 ** 6) for p in json.loads("[" + r[3] + "]")]
    assert sorted(got) == sorted(t * 100000 + i for t in range(4) for i in range(2000))
    it.close()
    store.close()


class GatedStore(MemoryStore):
    """A real in-memory store whose commits wait for a gate (a slow disk)."""

    def __init__(self, *a):
        super().__init__(*a)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def append(self, batches):
        self.entered.set()
        assert self.gate.wait(60)
        return super().append(batches)


def test_readings_being_committed_still_count_as_waiting():
    store = GatedStore(1000)
    it = Intake(store, Alerts(), linger_ms=1)
    it.put_many([enc(i) for i in range(10)])
    assert store.entered.wait(30)   # the committer took them and is writing
    assert it.waiting() == 10 and store.points == 0   # so a flush cannot take them for delivered
    assert it.persist(0.2) is False
    store.gate.set()
    assert it.persist(30) is True
    assert it.waiting() == 0 and store.points == 10
    it.close()
