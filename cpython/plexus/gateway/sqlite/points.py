"""Points on SQLite: a batch stored once per batch id, the metric names kept
beside them, and deleting (one source, or by age). Write jobs: they run on
the writer process inside a group's transaction (db.commit_group)."""

import itertools
import time

from plexus.gateway import db
from plexus.gateway.sqlite.sources import SEEN, SEEN_LATER
from plexus.gateway.store import POINT_COLUMNS, point_rows

RETENTION_CHUNK = 5000  # rows per transaction: the writer is never held for long

# Rows go in by multi-row INSERTs, 128 rows a statement and the rest in one
# more, for a whole group commit's batches at once (insert_batches):
# executemany steps once per row, this once per 128, and large batches take
# about a third less time. The statement texts (four kinds, up to 128 sizes
# each) are cached by the connection (db.STATEMENT_CACHE).
_POINTS = "INSERT INTO points (%s) VALUES " % ", ".join(POINT_COLUMNS)
_NAMES = "INSERT OR IGNORE INTO metric_names (source_id, metric) VALUES "
_BATCHES = "INSERT OR IGNORE INTO batches (source_id, batch_id, received_ms) VALUES "
_RETURNING = " RETURNING source_id, batch_id"  # only the rows inserted: the new batch ids
_CHUNK = 128
_texts = {}
_flat = itertools.chain.from_iterable

# Metric names this process has committed, so a frame's known names are not
# inserted again (INSERT OR IGNORE of known names was a tenth of the writer's
# CPU under a fleet's load). Forgotten when a transaction rolls back
# (db.ON_ROLLBACK), when a source is deleted, past KNOWN_MAX names, and
# every KNOWN_S (another process may have deleted some).
KNOWN_MAX = 200000
KNOWN_S = 60
_known = set()
_known_since = [0.0]


def _forget_names():
    _known.clear()
    _known_since[0] = time.monotonic()


db.ON_ROLLBACK.append(_forget_names)


def _texts_for(head, width, n, tail=""):
    key = (head, width, n, tail)
    sql = _texts.get(key)
    if sql is None:
        sql = _texts[key] = head + ",".join(["(%s)" % ",".join("?" * width)] * n) + tail
    return sql


def insert_values(conn, head, rows, tail=""):
    """`head` (an INSERT ... VALUES) for every row (tuples of one width), then
    `tail` (ON CONFLICT, RETURNING); the rows RETURNING gave back."""
    back = []
    for i in range(0, len(rows), _CHUNK):
        part = rows[i:i + _CHUNK]
        cur = conn.execute(_texts_for(head, len(part[0]), len(part), tail), tuple(_flat(part)))
        if tail:
            back.extend(cur.fetchall())
    return back


def insert_batch(conn, source_id, batch_id, points, received_ms):
    """Store one batch: the points stored, or None for a resend."""
    return insert_batches(conn, [(source_id, batch_id, points, received_ms)])[0]


def insert_batches(conn, jobs):
    """Several insert_batch jobs, each kind of row in one pass for them all
    (db.commit_group runs a group's consecutive jobs of this kind so): a
    group of 50 frames costs about 7 statements instead of 200. One result
    per job: the points stored, or None for a resend."""
    ids = [(j[0], j[1], j[3]) for j in jobs if j[1] is not None]
    fresh = set(insert_values(conn, _BATCHES, ids, _RETURNING)) if ids else ()
    results, rows, names, last_seen, done = [], [], set(), {}, set()
    for source_id, batch_id, pts, received_ms in jobs:
        if batch_id is not None:
            k = (source_id, batch_id)
            if k not in fresh or k in done:  # stored before, or twice in this group
                results.append(None)  # a resend of a stored batch: acknowledged, not stored twice
                continue
            done.add(k)
        n = len(rows)
        point_rows(source_id, pts, received_ms, rows)
        results.append(len(rows) - n)
        # Metric names kept apart, so queries over "every metric" probe the one
        # points index by name instead of needing a second index on every row.
        for r in rows[n:]:
            if r[2] == "metric" and (source_id, r[1]) not in _known:
                names.add((source_id, r[1]))
        if last_seen.get(source_id, 0) < received_ms:
            last_seen[source_id] = received_ms
    if rows:
        insert_values(conn, _POINTS, rows)
    if names:
        insert_values(conn, _NAMES, list(names))
    insert_values(conn, SEEN, list(last_seen.items()), SEEN_LATER)
    if len(_known) + len(names) > KNOWN_MAX or time.monotonic() - _known_since[0] > KNOWN_S:
        _forget_names()
    _known.update(names)  # committed with the group, or forgotten at its rollback
    return results


insert_batch.many = insert_batches  # what db.commit_group calls for a run of insert_batch jobs


def delete_source(conn, source_id):
    """Everything stored for one source; its batch ids too, so the source
    starts afresh. Returns the number of points deleted."""
    _forget_names()
    n = conn.execute("DELETE FROM points WHERE source_id=?", (source_id,)).rowcount
    for table in ("metric_names", "batches", "sources"):
        conn.execute("DELETE FROM %s WHERE source_id=?" % table, (source_id,))
    return n


def delete_older_than(conn, cutoff_ms, chunk=RETENTION_CHUNK):
    """Delete one chunk of points (and batch ids) older than cutoff_ms by
    their timestamp; returns how many points went. Call until it returns 0."""
    n = conn.execute("DELETE FROM points WHERE id IN (SELECT id FROM points WHERE ts < ? LIMIT ?)",
                     (cutoff_ms, chunk)).rowcount
    conn.execute("DELETE FROM batches WHERE (source_id, batch_id) IN (SELECT source_id, batch_id "
                 "FROM batches WHERE received_ms < ? LIMIT ?)", (cutoff_ms, chunk))
    return n
