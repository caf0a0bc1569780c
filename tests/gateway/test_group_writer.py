"""The SQLite writer's group commit: a job that fails in a group is reported
to its caller alone, its writes undone, and the others' writes committed; a
group's batches stored together, each once."""

import pytest

from plexus.gateway import db


@pytest.mark.store("sqlite")
def test_one_failing_job_in_a_group_does_not_undo_the_others(tmp_path, store_kind):
    def put(conn, sid):
        conn.execute("INSERT INTO sources (source_id) VALUES (?)", (sid,))
        return sid

    def half_then_fail(conn):
        conn.execute("INSERT INTO sources (source_id) VALUES ('half')")
        raise ValueError("bad data")

    conn = db.connect(str(tmp_path / "g.db"))
    results = db.commit_group(conn, [(1, put, ("a",)), (2, half_then_fail, ()), (3, put, ("b",))])
    assert [r[:2] for r in results] == [(1, True), (2, False), (3, True)]
    assert results[0][2] == "a" and results[2][2] == "b" and str(results[1][2]) == "bad data"
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


@pytest.mark.store("sqlite")
def test_a_groups_batches_are_stored_together_each_once(tmp_path, store_kind, monkeypatch):
    """A run of insert_batch jobs is one insert_batches call: resends (stored
    before, or twice in the group) are answered None and stored once, the
    rest stored in order, metric names and last-seen times kept."""
    from plexus.gateway.sqlite import points

    def frame(sid, k, n=3):
        return [{"class": "metric", "metric": "%s.m%d" % (sid, i), "value": k * 10 + i,
                 "timestamp": 1760000000000 + k} for i in range(n)]

    conn = db.connect(str(tmp_path / "b.db"))
    assert db.commit_group(conn, [(0, points.insert_batch, ("a", "old", frame("a", 0), 1760000000500))]) == [
        (0, True, 3)]
    jobs = [("a", "old", frame("a", 1), 1760000001000),    # stored by an earlier group
            ("a", "b1", frame("a", 2), 1760000002000),
            ("b", "b1", frame("b", 3, 2), 1760000003000),  # the same id from another source
            ("a", "b1", frame("a", 4), 1760000004000),     # twice in this group
            ("b", None, frame("b", 5, 1), 1760000005000),  # no batch id: always stored
            ("a", "b2", frame("a", 6, 200), 1760000001500)]  # more rows than one statement takes
    calls = []
    monkeypatch.setattr(points.insert_batch, "many",
                        lambda conn, js: calls.append(len(js)) or points.insert_batches(conn, js))
    results = db.commit_group(conn, [(k, points.insert_batch, j) for k, j in enumerate(jobs)])
    assert results == list(zip(range(6), [True] * 6, [None, 3, 2, None, 1, 200]))
    assert calls == [6]  # one call for the group's six
    rows = conn.execute("SELECT source_id, ts, num FROM points ORDER BY id").fetchall()
    want = [("a", 1760000000000, float(i)) for i in range(3)]
    for sid, _, pts, _ in (jobs[1], jobs[2], jobs[4], jobs[5]):
        want += [(sid, p["timestamp"], float(p["value"])) for p in pts]
    assert rows == want
    assert conn.execute("SELECT count(*) FROM metric_names").fetchone()[0] == 200 + 2
    assert dict(conn.execute("SELECT source_id, last_seen_ms FROM sources")) == {
        "a": 1760000002000, "b": 1760000005000}  # the latest stored frame's, never moved back
    assert sorted(conn.execute("SELECT source_id, batch_id FROM batches")) == [
        ("a", "b1"), ("a", "b2"), ("a", "old"), ("b", "b1")]
    conn.close()


@pytest.mark.store("sqlite")
def test_a_bad_batch_in_a_group_is_refused_alone(tmp_path, store_kind):
    from plexus.gateway.sqlite import points

    good = [{"class": "metric", "metric": "t", "value": 1, "timestamp": 1760000000000}]
    bad = [{"class": "metric", "metric": "t", "value": "not a number", "timestamp": 1760000000000}]
    conn = db.connect(str(tmp_path / "f.db"))
    results = db.commit_group(conn, [(1, points.insert_batch, ("a", "1", good, 1760000001000)),
                                     (2, points.insert_batch, ("a", "2", bad, 1760000001000)),
                                     (3, points.insert_batch, ("a", "3", good, 1760000001000))])
    assert results[0] == (1, True, 1) and results[2] == (3, True, 1)
    assert results[1][:2] == (2, False) and isinstance(results[1][2], ValueError)
    assert sorted(r[0] for r in conn.execute("SELECT batch_id FROM batches")) == ["1", "3"]
    assert conn.execute("SELECT count(*) FROM points").fetchone()[0] == 2
    conn.close()


@pytest.mark.store("sqlite")
def test_known_metric_names_are_forgotten_with_a_rollback_or_a_deleted_source(tmp_path, store_kind):
    """The writer skips names it has committed; work rolled back or a source
    deleted must not leave it believing a name is stored."""
    from plexus.gateway.sqlite import points

    def pts(metric):
        return [{"class": "metric", "metric": metric, "value": 1, "timestamp": 1760000000000}]

    def fails(conn):
        raise ValueError("bad data")

    def names(conn):
        return sorted(conn.execute("SELECT source_id, metric FROM metric_names"))

    conn = db.connect(str(tmp_path / "n.db"))
    # the first pass stores "x" and then rolls back for the failing job; the second must store it again
    results = db.commit_group(conn, [(1, points.insert_batch, ("a", "1", pts("x"), 1760000001000)),
                                     (2, fails, ())])
    assert results[0] == (1, True, 1) and results[1][1] is False
    assert names(conn) == [("a", "x")]
    db.commit_group(conn, [(1, points.delete_source, ("a",))])
    assert names(conn) == []
    db.commit_group(conn, [(1, points.insert_batch, ("a", "2", pts("x"), 1760000002000))])
    assert names(conn) == [("a", "x")]
    conn.close()
