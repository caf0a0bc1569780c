"""Points on SQLite: a batch stored once per batch id, the metric names kept
beside them, and deleting (one source, or by age). Write jobs: they run on
the writer thread inside its transaction (db.GroupWriter)."""

import itertools

from plexus.gateway.sqlite.sources import seen
from plexus.gateway.store import POINT_COLUMNS, point_rows

RETENTION_CHUNK = 5000  # rows per transaction: the writer is never held for long

# Rows go in by multi-row INSERTs of 128, 64, ..., 1 rows: one statement step
# per chunk instead of one per row is about 40 % cheaper than executemany, and
# eight fixed statements stay in the connection's statement cache.
_INSERT = "INSERT INTO points (%s) VALUES " % ", ".join(POINT_COLUMNS)
_ROW = "(%s)" % ",".join("?" * len(POINT_COLUMNS))
_CHUNKS = [(n, _INSERT + ",".join([_ROW] * n)) for n in (128, 64, 32, 16, 8, 4, 2, 1)]
_flat = itertools.chain.from_iterable


def insert_rows(conn, rows):
    i, end = 0, len(rows)
    for n, sql in _CHUNKS:
        while end - i >= n:
            conn.execute(sql, tuple(_flat(rows[i:i + n])))
            i += n


def insert_batch(conn, source_id, batch_id, points, received_ms):
    if batch_id is not None:
        cur = conn.execute("INSERT OR IGNORE INTO batches VALUES (?,?,?)", (source_id, batch_id, received_ms))
        if cur.rowcount == 0:
            return None  # a resend of a stored batch: acknowledged, not stored twice
    rows = point_rows(source_id, points, received_ms, [])
    insert_rows(conn, rows)
    # Metric names kept apart, so queries over "every metric" probe the one
    # points index by name instead of needing a second index on every row.
    names = set(r[1] for r in rows if r[2] == "metric")
    conn.executemany("INSERT OR IGNORE INTO metric_names VALUES (?,?)", [(source_id, m) for m in names])
    seen(conn, source_id, received_ms)
    return len(rows)


def delete_source(conn, source_id):
    """Everything stored for one source; its batch ids too, so the source
    starts afresh. Returns the number of points deleted."""
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
