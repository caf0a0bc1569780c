"""SQLite keeps points in two tables (gateway/sqlite/points.py): new ones in
points_recent, moved into points_indexed in (source_id, id) order. The Data
API reads both, anything else the view `points`: a move must not change a
single answer."""

import sqlite3

import pytest

from plexus.gateway import db
from plexus.gateway.sqlite import points, queries

T0 = 1760000000000
pytestmark = pytest.mark.store("sqlite")


def _frame(k, n=4):
    pts = [{"class": "metric", "metric": "m%d" % i, "value": k * 10 + i, "timestamp": T0 + k * 1000}
           for i in range(n)]
    pts.append({"class": "event", "metric": "boot", "value": {"k": k}, "timestamp": T0 + k * 1000 + 1})
    return pts


def _store(conn, sources, frames, first=0):
    jobs = [(len(sources) * k + j + 1, points.insert_batch, (sid, "%s-%d" % (sid, k), _frame(k), T0 + k * 1000))
            for k in range(first, first + frames) for j, sid in enumerate(sources)]
    assert all(ok for _, ok, _ in db.commit_group(conn, jobs))


def _answers(conn, sources):
    """Everything a reader sees: every row of the view, and the Data API's reads."""
    out = [conn.execute("SELECT * FROM points ORDER BY ts, id").fetchall()]
    for sid in sources:
        out.append(queries.latest(conn, sid, 0))
        out.append(queries.raw(conn, sid, ["m1", "m3"], T0, T0 + 10 ** 7))
        out.append(queries.aggregated(conn, sid, [], T0, T0 + 10 ** 7, 5000))
        out.append(queries.events(conn, sid, T0, T0 + 10 ** 7, "boot", 7, True))
    out.append(queries.fleet_metric(conn, "m2", T0, T0 + 10 ** 7, 10000, 1000))
    out.append(queries.metric_values(conn, None, "m0", T0, T0 + 10 ** 7))
    return out


def _move(conn, min_rows=0):
    (_, ok, moved), = db.commit_group(conn, [(0, points.move_rows, (min_rows,))])
    assert ok, moved
    return moved


def _where(conn):
    """source -> (rows in points_recent, rows in points_indexed)."""
    counts = {}
    for table, k in (("points_recent", 0), ("points_indexed", 1)):
        for sid, n in conn.execute("SELECT source_id, count(*) FROM %s GROUP BY source_id" % table):
            counts.setdefault(sid, [0, 0])[k] = n
    return counts


def test_moves_take_rows_in_key_order_and_change_no_answer(tmp_path, monkeypatch):
    monkeypatch.setattr(points, "MOVE_MIN_ROWS", 20)
    monkeypatch.setattr(points, "_cursor", ("", 0))
    points._recount()
    conn = db.connect(str(tmp_path / "m.db"))
    sources = ["rig-%02d" % i for i in range(12)]
    _store(conn, sources, 6)
    before = _answers(conn, sources)
    assert conn.execute("SELECT count(*) FROM points_indexed").fetchone()[0] == 0

    assert _move(conn, min_rows=10 ** 6) == 0  # fewer waiting than asked for: nothing moves
    assert _move(conn) == 20
    keys = conn.execute("SELECT source_id, id FROM points_indexed ORDER BY source_id, id").fetchall()
    assert keys == conn.execute("SELECT source_id, id FROM points ORDER BY source_id, id LIMIT 20").fetchall()
    assert _answers(conn, sources) == before

    moves = [20]
    while moves[-1]:
        moves.append(_move(conn))
        assert _answers(conn, sources) == before
    assert moves == [20] * 18 + [0]  # 360 rows, 20 a move, each from where the last one stopped
    assert conn.execute("SELECT count(*) FROM points_recent").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM points_indexed").fetchone()[0] == 12 * 6 * 5

    _store(conn, sources, 3, first=6)  # new points after moves: ids still grow, reads still whole
    ids = [r[0] for r in conn.execute("SELECT id FROM points ORDER BY id")]
    assert len(ids) == len(set(ids)) == 12 * 9 * 5
    assert min(r[0] for r in conn.execute("SELECT id FROM points_recent")) > \
        max(r[0] for r in conn.execute("SELECT id FROM points_indexed"))
    assert queries.raw(conn, "rig-03", ["m0"], T0, T0 + 10 ** 7)[0]["m0"]["value"] == [k * 10.0 for k in range(9)]
    conn.close()


def test_a_move_is_due_only_when_enough_rows_wait(tmp_path, monkeypatch):
    monkeypatch.setattr(points, "RECENT_MIN_ROWS", 100)
    monkeypatch.setattr(points, "MOVE_MIN_ROWS", 10)
    monkeypatch.setattr(points, "MOVE_EVERY_S", 0)
    points._recount()
    conn = db.connect(str(tmp_path / "w.db"))
    assert points.move_due()  # rows not counted yet: the move counts them
    assert _move(conn, None) == 0
    _store(conn, ["a", "b", "c"], 6)  # 90 rows
    assert not points.move_due()
    _store(conn, ["a", "b", "c"], 1, first=6)  # 105
    assert points.move_due()
    assert _move(conn, None) > 0
    assert sum(n for n, _ in _where(conn).values()) < 105
    conn.close()


def test_deleting_a_source_or_old_points_reaches_both_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(points, "_cursor", ("", 0))
    points._recount()
    conn = db.connect(str(tmp_path / "d.db"))
    _store(conn, ["gone", "kept"], 4)
    while _move(conn):
        pass
    _store(conn, ["gone", "kept"], 4, first=4)  # these wait in points_recent
    assert _where(conn) == {"gone": [20, 20], "kept": [20, 20]}

    (_, ok, n), = db.commit_group(conn, [(0, points.delete_source, ("gone",))])
    assert ok and n == 40
    assert _where(conn) == {"kept": [20, 20]}

    cutoff = T0 + 2000  # frames 0 and 1 (indexed), none of the recent ones
    (_, ok, n), = db.commit_group(conn, [(0, points.delete_older_than, (cutoff, 3))])
    assert ok and n == 3
    while db.commit_group(conn, [(0, points.delete_older_than, (cutoff, 3))])[0][2]:
        pass
    assert _where(conn) == {"kept": [20, 10]}
    old = [{"class": "metric", "metric": "m0", "value": 1, "timestamp": T0 - 5000}]  # a late backlog
    assert db.commit_group(conn, [(0, points.insert_batch, ("kept", "late", old, T0))])[0][2] == 1
    assert db.commit_group(conn, [(0, points.delete_older_than, (cutoff, 100))])[0][2] == 1
    assert _where(conn) == {"kept": [20, 10]}
    conn.close()


def test_a_file_with_the_old_points_table_is_split_on_connect(tmp_path):
    path = str(tmp_path / "old.db")
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE keys (id INTEGER PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
            hint TEXT NOT NULL, scopes TEXT NOT NULL, source_id TEXT, created_ms INTEGER NOT NULL,
            revoked_ms INTEGER);
        CREATE TABLE points (id INTEGER PRIMARY KEY, source_id TEXT NOT NULL, metric TEXT NOT NULL,
            class TEXT NOT NULL, ts INTEGER NOT NULL, num REAL, value TEXT NOT NULL, tags TEXT,
            received_ms INTEGER NOT NULL);
        CREATE INDEX points_by_metric ON points (source_id, class, metric, ts);
        CREATE INDEX points_events ON points (source_id, ts) WHERE class = 'event';
    """)
    old.executemany("INSERT INTO points (id, source_id, metric, class, ts, num, value, received_ms) "
                    "VALUES (?, 'rig', 'm0', 'metric', ?, ?, ?, ?)",
                    [(i * 7, T0 + i, float(i), str(i), T0) for i in range(1, 6)])
    old.commit()
    old.close()
    db.check(path)  # still known as a gateway's file

    conns = [db.connect(path), db.connect(path)]  # the second finds it done
    conn = conns[0]
    kinds = dict(conn.execute("SELECT name, type FROM sqlite_master WHERE name LIKE 'points%'"))
    assert kinds["points"] == "view" and kinds["points_indexed"] == "table" and kinds["points_recent"] == "table"
    assert kinds["points_by_metric"] == "index"
    assert db.commit_group(conn, [(0, points.insert_batch, ("rig", "b", _frame(9, 1), T0))])[0][2] == 2
    rows = conn.execute("SELECT id, num FROM points WHERE metric='m0' ORDER BY id").fetchall()
    assert rows == [(7, 1.0), (14, 2.0), (21, 3.0), (28, 4.0), (35, 5.0), (36, 90.0)]
    for c in conns:
        c.close()
