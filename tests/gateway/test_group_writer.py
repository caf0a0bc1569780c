"""The SQLite writer's group commit: a job that fails in a group is reported
to its caller alone, its writes undone, and the others' writes committed."""

import sqlite3
import threading

import pytest

from plexus.gateway import db


@pytest.mark.store("sqlite")
def test_one_failing_job_in_a_group_does_not_undo_the_others(tmp_path, store_kind):
    w = db.GroupWriter(str(tmp_path / "g.db"))
    try:
        gate = threading.Event()

        def hold(conn):  # keeps the writer busy while the next group queues up
            assert gate.wait(60)

        def put(conn, sid):
            conn.execute("INSERT INTO sources (source_id) VALUES (?)", (sid,))
            return sid

        def half_then_fail(conn):
            conn.execute("INSERT INTO sources (source_id) VALUES ('half')")
            raise ValueError("bad data")

        first = w.submit(hold)
        group = [w.submit(put, "a"), w.submit(half_then_fail), w.submit(put, "b")]
        gate.set()
        first.result(60)
        assert group[0].result(60) == "a" and group[2].result(60) == "b"
        with pytest.raises(ValueError, match="bad data"):
            group[1].result(60)
    finally:
        w.close()
    conn = sqlite3.connect(str(tmp_path / "g.db"))
    assert sorted(r[0] for r in conn.execute("SELECT source_id FROM sources")) == ["a", "b"]
    conn.close()


@pytest.mark.store("sqlite")
@pytest.mark.parametrize("n", [1, 2, 127, 128, 129, 255, 1000])
def test_multi_row_inserts_store_every_point_once_in_order(tmp_path, store_kind, n):
    from plexus.gateway.sqlite import points

    conn = db.connect(str(tmp_path / "p.db"))
    pts = [{"class": "metric", "metric": "m%d" % (i % 3), "value": i, "timestamp": 1760000000000 + i}
           for i in range(n)]
    conn.execute("BEGIN")
    assert points.insert_batch(conn, "rig", "b1", pts, 1760000001000) == n
    conn.execute("COMMIT")
    rows = conn.execute("SELECT metric, ts, num, value FROM points ORDER BY id").fetchall()
    assert rows == [("m%d" % (i % 3), 1760000000000 + i, float(i), str(i)) for i in range(n)]
    conn.close()
