"""The store: real SQLite files (and the in-memory twin) with the same rules."""

import json
import sqlite3

import pytest

from plexus.buffer_lock import BufferLock
from plexus.store import SUB_BITS, MemoryStore, SqliteStore, split_row
from plexus_core.errors import PlexusError
from plexus_core.points import encode_point, make_point


def enc(i, metric="m"):
    return encode_point(make_point(metric, i, 1760000000000 + i))


def batch_of(lo, hi):
    pts = [enc(i) for i in range(lo, hi)]
    return (len(pts), ",".join(pts))


def values(rows):
    return [p["value"] for r in rows for p in json.loads("[" + r[3] + "]")]


@pytest.fixture(params=["sqlite", "memory"])
def make_store(request, tmp_path):
    made = []

    def make(max_points=1000, path=None):
        if request.param == "memory":
            s = MemoryStore(max_points)
        else:
            s = SqliteStore(path or tmp_path / "buf.db", max_points)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def test_rows_come_back_oldest_first_and_leave_only_when_deleted(make_store):
    s = make_store()
    assert s.add([batch_of(0, 3), batch_of(3, 5)]) == 0
    assert s.add([batch_of(5, 9)]) == 0
    rows = s.rows()
    assert [r[2] for r in rows] == [3, 2, 4] and s.points == 9
    assert values(rows) == list(range(9))
    assert len({r[1] for r in rows}) == 3  # every batch has its own id
    assert s.rows(after=rows[0][0]) == rows[1:]
    assert s.delete([rows[1][0]]) == 2 and s.points == 7
    assert values(s.rows()) == [0, 1, 2, 5, 6, 7, 8]
    assert s.delete([rows[1][0]]) == 0  # deleting twice is harmless
    assert s.get(rows[0][0]) == rows[0] and s.get(rows[1][0]) is None


def test_over_capacity_the_oldest_go_first_and_are_counted(make_store):
    s = make_store(max_points=10)
    s.add([batch_of(0, 4)])
    s.add([batch_of(4, 8)])
    assert s.add([batch_of(8, 12)]) == 4
    assert values(s.rows()) == list(range(4, 12)) and s.points == 8
    assert s.resize(5) == 4 and values(s.rows()) == list(range(8, 12))


def test_split_halves_keep_order_and_get_derived_ids(make_store):
    s = make_store()
    s.add([batch_of(0, 7), batch_of(7, 9)])
    row, nxt = s.rows()
    a, b = split_row(row)
    assert (a[2], b[2]) == (3, 4) and row[0] < a[0] + 1 and a[0] < b[0] < nxt[0]
    assert a[1] == row[1] + "/0+3" and b[1] == row[1] + "/3+4"
    assert split_row(row) == (a, b)  # the same split every time: resends are identical
    assert s.replace([row[0]], [a, b])
    assert values(s.rows()) == list(range(9)) and s.points == 9
    a1, a2 = split_row(s.get(b[0]))
    assert a1[1] == row[1] + "/3+2" and a2[1] == row[1] + "/5+2"
    assert not s.replace([row[0] + 12345], [])  # a vanished row: nothing changes


def test_merged_row_replaces_its_parts(make_store):
    s = make_store()
    s.add([batch_of(0, 2), batch_of(2, 3), batch_of(3, 6)])
    rows = s.rows()
    m = s.merged_row(rows[:2])
    assert m[0] == rows[0][0] and m[2] == 3 and m[1] not in {r[1] for r in rows}
    assert s.replace([r[0] for r in rows[:2]], [m])
    assert [r[2] for r in s.rows()] == [3, 3] and values(s.rows()) == list(range(6))


def test_rows_and_ids_survive_reopen_and_new_ids_never_repeat(tmp_path):
    p = tmp_path / "b.db"
    s = SqliteStore(p)
    s.add([batch_of(0, 2)])
    before = s.rows()
    s.close()
    s = SqliteStore(p)
    assert s.rows() == before and s.points == 2
    assert s.first_new_key > before[-1][0]
    s.add([batch_of(2, 3)])
    s.delete([r[0] for r in s.rows()])
    s.close()
    ids = set(r[1] for r in before)
    for _ in range(3):  # emptied file, reopened: numbering restarts, ids do not repeat
        s = SqliteStore(p)
        s.add([batch_of(0, 1)])
        (r,) = s.rows()
        assert r[1] not in ids
        ids.add(r[1])
        s.delete([r[0]])
        s.close()


def test_file_is_wal_and_fully_synchronous(tmp_path):
    s = SqliteStore(tmp_path / "b.db")
    assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    s.add([batch_of(0, 2)])
    s.delete([s.rows()[0][0]])       # deletes skip the fsync, inserts never do
    assert s._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    s.close()


def test_batches_are_blobs_and_text_rows_of_earlier_versions_still_read(tmp_path):
    p = tmp_path / "b.db"
    old = sqlite3.connect(str(p))  # a file as earlier versions wrote it: data as TEXT
    old.execute("CREATE TABLE batches (id INTEGER PRIMARY KEY, bid TEXT NOT NULL, n INTEGER NOT NULL, "
                "data TEXT NOT NULL)")
    n, data = batch_of(0, 3)
    old.execute("INSERT INTO batches VALUES (?, ?, ?, ?)", (1 << SUB_BITS, "old-1", n, data))
    old.commit()
    old.close()
    s = SqliteStore(p)
    assert s.points == 3 and s.nbytes == len(data)
    rows, evicted = s.append([batch_of(3, 5)])
    assert evicted == 0 and [r[2] for r in rows] == [2]
    assert s.rows() == [(1 << SUB_BITS, "old-1", 3, data), rows[0]]  # both as str
    assert values(s.rows()) == list(range(5))
    kinds = [t for (t,) in s._db.execute("SELECT typeof(data) FROM batches ORDER BY id")]
    assert kinds == ["text", "blob"]
    assert s.delete([r[0] for r in s.rows()]) == 5 and s.points == 0 and s.nbytes == 0
    s.close()


def test_byte_cap_evicts_too(tmp_path):
    s = SqliteStore(tmp_path / "b.db", max_points=10 ** 6, max_bytes=2000)
    for i in range(0, 100, 10):
        s.add([batch_of(i, i + 10)])
    assert s.nbytes <= 2000 and s.points < 100
    assert values(s.rows())[-1] == 99


def legacy_file(path, points):
    db = sqlite3.connect(str(path))
    db.execute("CREATE TABLE points (id INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL)")
    db.executemany("INSERT INTO points (data) VALUES (?)", [(json.dumps(p),) for p in points])
    db.commit()
    db.close()


def test_adopts_a_plexus_python_buffer_in_place_and_drops_invalid_rows(tmp_path):
    p = tmp_path / "buffer-dev.db"
    good = [{"class": "metric", "metric": "t", "value": i, "timestamp": 1760000000000 + i}
            for i in range(3)]
    bad = {"class": "metric", "metric": "t", "value": "not a number", "timestamp": 1}
    legacy_file(p, good[:2] + [bad] + good[2:])
    s = SqliteStore(p)
    assert s.adopted == 3 and s.invalid == 1
    assert values(s.rows()) == [0, 1, 2]
    assert not s._db.execute("SELECT name FROM sqlite_master WHERE name='points'").fetchone()
    s.close()


def test_adopts_the_old_shared_buffer_file(tmp_path):
    old = tmp_path / "buffer.db"
    legacy_file(old, [{"metric": "t", "value": 5, "timestamp": 1760000000000}])
    s = SqliteStore(tmp_path / "buffer-x.db", adopt=(old,))
    assert values(s.rows()) == [5]
    s.close()
    s = SqliteStore(tmp_path / "buffer-y.db", adopt=(old,))  # moved once, not twice
    assert s.points == 0
    s.close()


def test_second_client_on_one_buffer_is_refused_with_a_clear_message(tmp_path):
    a = BufferLock(tmp_path / "b.db")
    with pytest.raises(PlexusError, match="in use by another Plexus client"):
        BufferLock(tmp_path / "b.db")
    a.release()
    BufferLock(tmp_path / "b.db").release()


def test_key_layout_leaves_room_for_any_split():
    assert (1 << SUB_BITS) > 10000
