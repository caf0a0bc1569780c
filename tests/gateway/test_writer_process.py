"""The SQLite store's writer process (gateway/writer_process.py): jobs run
there and answer their callers; a job that fails fails alone; when the
process dies, the writes in flight fail as StoreUnavailable and the next
write starts a new one."""

import logging
import operator
import os
import signal
import sqlite3
import threading
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


_running = threading.Event()
_release = threading.Event()


def _held(conn):
    """A job that holds its group's commit until the test lets it go."""
    _running.set()
    assert _release.wait(60)


@pytest.mark.store("sqlite")
def test_jobs_that_come_during_a_commit_are_gathered_and_a_lone_job_is_not_held(tmp_path, store_kind, monkeypatch):
    import io
    import pickle

    from plexus.gateway import db, writer_process

    monkeypatch.setattr(writer_process, "GATHER_S", 5.0)  # long, so this test's own pace cannot matter
    checks, checked = [], threading.Condition()  # what the writer found each time it looked for waiting jobs
    looked = writer_process._jobs_waiting

    def look(fd):
        found = looked(fd)
        with checked:
            checks.append(found)
            checked.notify_all()
        return found

    monkeypatch.setattr(writer_process, "_jobs_waiting", look)
    _running.clear()
    _release.clear()
    jobs_r, jobs_w = os.pipe()
    results_r, results_w = os.pipe()
    out = io.open(results_w, "wb")
    answers = io.open(results_r, "rb")
    conn = db.connect(str(tmp_path / "g.db"))
    serving = threading.Thread(target=writer_process._serve, args=(conn, jobs_r, out, os.getppid()), daemon=True)
    serving.start()

    def send(i, fn, *args):
        job = pickle.dumps((fn, args))
        os.write(jobs_w, writer_process._HEAD.pack(len(job), i) + job)

    def group():
        n = writer_process._HEAD.unpack(answers.read(writer_process._HEAD.size))[0]
        return sorted(i for i, ok, _ in pickle.loads(answers.read(n)) if ok)

    try:
        with checked:  # it looked before anything was sent
            assert checked.wait_for(lambda: checks, 30)
        send(1, _held)
        assert _running.wait(60)
        send(2, sources.seen, "rig-2", 1760000000000)  # while group 1 commits
        _release.set()
        assert group() == [1]
        send(3, sources.seen, "rig-3", 1760000000000)  # after group 1: 2 waited, so 3 joins it
        assert group() == [2, 3]
        with checked:  # the writer has looked after group [2, 3], found nothing, and waits to read
            assert checked.wait_for(lambda: len(checks) >= 3, 30)
        got = []
        reader = threading.Thread(target=lambda: got.append(group()), daemon=True)
        send(4, sources.seen, "rig-4", 1760000000000)
        reader.start()
        reader.join(2.5)  # half the gathering time: a held job would still be waiting
        assert got == [[4]]
        assert checks[:3] == [False, True, False]
    finally:
        _release.set()
        os.write(jobs_w, writer_process._HEAD.pack(0, writer_process._END))
        serving.join(30)
        conn.close()
        for f in (out, answers):
            f.close()
        os.close(jobs_r)
        os.close(jobs_w)
    assert _rows(str(tmp_path / "g.db"), "SELECT source_id FROM sources ORDER BY 1") == \
        [("rig-2",), ("rig-3",), ("rig-4",)]
