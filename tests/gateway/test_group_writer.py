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
