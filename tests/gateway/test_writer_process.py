"""The SQLite store's writer process (gateway/writer_process.py): jobs run
there and answer their callers; a job that fails fails alone; when the
process dies, the writes in flight fail as StoreUnavailable and the next
write starts a new one."""

import logging
import operator
import os
import signal
import sqlite3
import time

import pytest

from plexus.gateway import keys
from plexus.gateway.sqlite import runs, sources
from plexus.gateway.storage import StoreUnavailable
from plexus.gateway.store import store_unavailable
from plexus.gateway.writer_process import WriterProcess

# Runs until its process is killed: SQLite counts an endless recursive table.
FOREVER = operator.methodcaller("execute", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                                "SELECT max(x) FROM c")


def _rows(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.store("sqlite")
def test_jobs_run_in_the_writer_process_and_answer(tmp_path, store_kind):
    path = str(tmp_path / "w.db")
    w = WriterProcess(path)
    try:
        seen = [w.submit(sources.seen, "rig-%d" % i, 1760000000000 + i) for i in range(50)]
        key = w.submit(keys.create, "bench")
        first = w.submit(runs.new_command, "c1", "rig-1", "reboot", {}, 1760000000000)
        again = w.submit(runs.new_command, "c1", "rig-1", "reboot", {}, 1760000000000)  # the same id
        cursor = w.submit(operator.methodcaller("execute", "SELECT 1"))  # a result that does not pickle
        assert [f.result(60) for f in seen] == [None] * 50
        assert key.result(60).startswith("plx_")
        assert first.result(60) is None
        with pytest.raises(sqlite3.IntegrityError):
            again.result(60)
        with pytest.raises(RuntimeError, match="Cursor"):
            cursor.result(60)
        assert os.getpid() != w._child.proc.pid
    finally:
        w.close()
    assert w._child.proc.returncode == 0  # it committed what it had and exited
    assert _rows(path, "SELECT count(*) FROM sources") == [(50,)]
    assert _rows(path, "SELECT id FROM commands") == [("c1",)]
    with pytest.raises(StoreUnavailable):
        w.submit(sources.seen, "late", 1)


@pytest.mark.store("sqlite")
def test_a_killed_writer_fails_what_it_held_and_the_next_write_starts_another(tmp_path, store_kind, caplog):
    path = str(tmp_path / "k.db")
    w = WriterProcess(path)
    try:
        stuck = w.submit(FOREVER)
        first = w._child.proc
        os.kill(first.pid, signal.SIGKILL)
        with pytest.raises(StoreUnavailable, match="writer process ended") as e:
            stuck.result(60)
        assert store_unavailable(e.value)  # devices are told to come back, nothing is acknowledged
        assert first.wait(60) == -signal.SIGKILL
        with caplog.at_level(logging.WARNING, logger="plexus.gateway"):
            assert w.submit(sources.seen, "after", 1760000000000).result(60) is None
        assert w._child.proc is not first
        assert "writer process ended (exit code -9); starting a new one" in caplog.text
    finally:
        w.close()
    assert _rows(path, "SELECT source_id FROM sources") == [("after",)]


@pytest.mark.store("sqlite")
def test_jobs_that_arrive_after_the_gateway_died_are_not_committed(tmp_path, store_kind):
    """The writer checks before each group that the gateway is still its
    parent: an orphan commits nothing more, as a thread of the gateway would."""
    import io
    import pickle

    from plexus.gateway import db, writer_process

    def run(parent):
        r, w = os.pipe()
        job = pickle.dumps((sources.seen, ("rig-%d" % parent, 1760000000000)))
        os.write(w, writer_process._HEAD.pack(len(job), 1) + job + writer_process._HEAD.pack(0, 0))
        os.close(w)
        out = io.BytesIO()
        conn = db.connect(str(tmp_path / "o.db"))
        try:
            writer_process._serve(conn, r, out, parent)
        finally:
            conn.close()
            os.close(r)
        return out.getvalue()

    assert run(os.getppid() + 1) == b""  # not our parent: the gateway is gone
    assert run(os.getppid()) != b""      # our parent: committed and answered
    assert _rows(str(tmp_path / "o.db"), "SELECT source_id FROM sources") == [("rig-%d" % os.getppid(),)]


@pytest.mark.store("sqlite")
def test_the_writer_moves_points_to_the_indexed_table_inside_its_groups(tmp_path, store_kind):
    from plexus.gateway.sqlite import points

    path = str(tmp_path / "m.db")
    w = WriterProcess(path)
    try:
        frame = [{"class": "metric", "metric": "m%d" % (i % 10), "value": i, "timestamp": 1760000000000 + i}
                 for i in range(1000)]
        stored = [w.submit(points.insert_batch, "rig-%d" % k, None, frame, 1760000000000)
                  for k in range(points.RECENT_MIN_ROWS // 1000 + 5)]
        assert [f.result(60) for f in stored] == [1000] * len(stored)
        deadline = time.monotonic() + 30
        while not _rows(path, "SELECT count(*) FROM points_indexed")[0][0]:
            assert time.monotonic() < deadline, "no points moved in 30 s"
            # a group to ride on; its answer is its own, not the move's
            assert w.submit(sources.seen, "tick", 1760000000000).result(60) is None
        assert _rows(path, "SELECT count(*), count(DISTINCT id) FROM points") == [(len(stored) * 1000,) * 2]
    finally:
        w.close()
