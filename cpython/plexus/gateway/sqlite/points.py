"""Points on SQLite: a batch stored once per batch id, the metric names kept
beside them, and deleting (one source, or by age). Write jobs: they run on
the writer thread inside its transaction (db.GroupWriter)."""

import itertools

from plexus.gateway.sqlite.sources import seen
from plexus.gateway.store import POINT_COLUMNS, point_rows

RETENTION_CHUNK = 5000  # rows per transaction: the writer is never held for long

# Rows go in by multi-row INSERTs, 128 rows a statement and the rest in one
# more. Each statement step gives up the interpreter lock and must win it
# back from the busy event loop; executemany steps once per row, this once
# per frame, and large batches take about a third less time. The statement
# texts are cached by the connection (db.STATEMENT_CACHE).
_POINTS = "INSERT INTO points (%s) VALUES " % ", ".join(POINT_COLUMNS)
_NAMES = "INSERT OR IGNORE INTO metric_names (source_id, metric) VALUES "
_CHUNK = 128
_texts = {}
_flat = itertools.chain.from_iterable


def insert_values(conn, head, rows):
    """`head` (an INSERT ... VALUES) for every row (tuples of one width)."""
    for i in range(0, len(rows), _CHUNK):
        part = rows[i:i + _CHUNK]
        key = (head, len(part[0]), len(part))
        sql = _texts.get(key)
        if sql is None:
            sql = _texts[key] = head + ",".join(["(%s)" % ",".join("?" * key[1])] * key[2])
        conn.execute(sql, tuple(_flat(part)))


def insert_batch(conn, source_id, batch_id, points, received_ms):
    if batch_id is not None:
        cur = conn.execute("INSERT OR IGNORE INTO batches VALUES (?,?,?)", (source_id, batch_id, received_ms))
        if cur.rowcount == 0:
            return None  # a resend of a stored batch: acknowledged, not stored twice
    rows = point_rows(source_id, points, received_ms, [])
    insert_values(conn, _POINTS, rows)
    # Metric names kept apart, so queries over "every metric" probe the one
    # points index by name instead of needing a second index on every row.
    names = set(r[1] for r in rows if r[2] == "metric")
    if names:
        insert_values(conn, _NAMES, [(source_id, m) for m in names])
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
