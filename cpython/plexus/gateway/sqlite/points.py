"""Points on SQLite: a batch stored once per batch id, the metric names kept
beside them, and deleting (one source, or by age). Write jobs: they run on
the writer process inside a group's transaction (db.commit_group).

Points are kept in two tables. New points go into points_recent, clustered
by source, so a frame's rows sit side by side and a commit changes about one
page of it per frame. points_indexed holds the rest under the per-metric
index. Put straight into that index, each point of a frame changed a page of
its own once a metric's run outgrew a page: at 6 million rows a 10-point
frame cost the writer 0.28 ms and 92 KiB written, against 0.08 ms and 8 KiB
without the index (tools/bench_writer.py). move_rows, which the writer
process adds to a group now and then, moves the next rows in (source_id, id)
order across, sorted by the index, so each index page takes a run of a
metric's rows at once. The Data API reads both tables (sqlite/queries.py);
anything else reads the view `points` over both (db.py).
"""

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
_POINTS = "INSERT INTO points_recent (id, %s) VALUES " % ", ".join(POINT_COLUMNS)
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
_known_since = 0.0  # monotonic time _known was last emptied


def _forget_names():
    global _known_since
    _known.clear()
    _known_since = time.monotonic()


db.ON_ROLLBACK.append(_forget_names)

# Moving points_recent into points_indexed. Each move takes 1/MOVE_PARTS of
# points_recent, at most every MOVE_EVERY_S, so under a steady load a row
# waits about MOVE_PARTS * MOVE_EVERY_S (10 s) and a metric's rows move ten
# at a time for a fleet at one frame a second. Fewer than RECENT_MIN_ROWS
# waiting: nothing moves (a small fleet's rows gather for longer instead).
MOVE_PARTS = 100
MOVE_EVERY_S = 0.1
RECENT_MIN_ROWS = 20000
MOVE_MIN_ROWS = 2000
_COLUMNS = "id, " + ", ".join(POINT_COLUMNS)
_MOVE = "INSERT INTO points_indexed (%s) SELECT %s FROM points_recent WHERE %%s ORDER BY source_id, class, " \
        "metric, ts" % (_COLUMNS, _COLUMNS)
_recent_rows = None  # rows in points_recent as this process counts them; None: count again
_cursor = ("", 0)   # moves go through points_recent in key order, from after this (source_id, id)
_moved_at = 0.0


def _recount():
    global _recent_rows
    _recent_rows = None


db.ON_ROLLBACK.append(_recount)


def _take_ids(conn, n):
    """The first of n new point ids. The last one given is kept in the
    database, so ids never repeat whichever process wrote before."""
    row = conn.execute("SELECT last FROM point_ids").fetchone()
    if row is None:  # a new file, or one from before point_ids
        last = max(conn.execute("SELECT coalesce(max(id), 0) FROM points_indexed").fetchone()[0],
                   conn.execute("SELECT coalesce(max(id), 0) FROM points_recent").fetchone()[0])
        conn.execute("INSERT INTO point_ids (one, last) VALUES (1, ?)", (last + n,))
    else:
        last = row[0]
        conn.execute("UPDATE point_ids SET last=?", (last + n,))
    return last + 1


def move_due():
    """Whether the writer process adds a move (move_rows) to the group it
    commits next (writer_process.py): in the group's transaction, a move
    costs no sync of its own."""
    global _moved_at
    if _recent_rows is not None and _recent_rows < RECENT_MIN_ROWS:
        return False
    now = time.monotonic()
    if now - _moved_at < MOVE_EVERY_S:
        return False
    _moved_at = now
    return True


def move_rows(conn, min_rows=None):
    """One move (a write job): about a MOVE_PARTS-th of points_recent, the
    rows after the cursor in (source_id, id) order, once it holds `min_rows`
    or more (default RECENT_MIN_ROWS). By rows, not whole sources, so one
    device's backlog of readings moves in steps like any other."""
    global _recent_rows, _cursor
    if _recent_rows is None:
        _recent_rows = conn.execute("SELECT count(*) FROM points_recent").fetchone()[0]
    if _recent_rows < (RECENT_MIN_ROWS if min_rows is None else min_rows) or not _recent_rows:
        return 0
    step = max(MOVE_MIN_ROWS, _recent_rows // MOVE_PARTS)
    last = conn.execute("SELECT source_id, id FROM points_recent WHERE (source_id, id) > (?, ?) "
                        "ORDER BY source_id, id LIMIT 1 OFFSET ?", _cursor + (step - 1,)).fetchone()
    if last is None:  # to the end; the next move starts from the first source again
        where, args = "(source_id, id) > (?, ?)", _cursor
    else:
        where, args = "(source_id, id) > (?, ?) AND (source_id, id) <= (?, ?)", _cursor + tuple(last)
    moved = conn.execute(_MOVE % where, args).rowcount
    conn.execute("DELETE FROM points_recent WHERE " + where, args)
    _cursor = ("", 0) if last is None else tuple(last)
    _recent_rows -= moved
    return moved


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
    global _recent_rows
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
        first = _take_ids(conn, len(rows))
        insert_values(conn, _POINTS, [(first + k,) + r for k, r in enumerate(rows)])
        if _recent_rows is not None:
            _recent_rows += len(rows)
    if names:
        insert_values(conn, _NAMES, list(names))
    insert_values(conn, SEEN, list(last_seen.items()), SEEN_LATER)
    if len(_known) + len(names) > KNOWN_MAX or time.monotonic() - _known_since > KNOWN_S:
        _forget_names()
    _known.update(names)  # committed with the group, or forgotten at its rollback
    return results


insert_batch.many = insert_batches  # what db.commit_group calls for a run of insert_batch jobs


def delete_source(conn, source_id):
    """Everything stored for one source; its batch ids too, so the source
    starts afresh. Returns the number of points deleted."""
    _forget_names()
    _recount()
    n = conn.execute("DELETE FROM points_indexed WHERE source_id=?", (source_id,)).rowcount
    n += conn.execute("DELETE FROM points_recent WHERE source_id=?", (source_id,)).rowcount
    for table in ("metric_names", "batches", "sources"):
        conn.execute("DELETE FROM %s WHERE source_id=?" % table, (source_id,))
    return n


def delete_older_than(conn, cutoff_ms, chunk=RETENTION_CHUNK):
    """Delete one chunk of points (and batch ids) older than cutoff_ms by
    their timestamp; returns how many points went. Call until it returns 0."""
    n = conn.execute("DELETE FROM points_indexed WHERE id IN (SELECT id FROM points_indexed WHERE ts < ? "
                     "LIMIT ?)", (cutoff_ms, chunk)).rowcount
    if n < chunk:  # then the few that have not moved yet (a device's backlog of old readings)
        n += conn.execute("DELETE FROM points_recent WHERE (source_id, id) IN (SELECT source_id, id FROM "
                          "points_recent WHERE ts < ? LIMIT ?)", (cutoff_ms, chunk - n)).rowcount
        _recount()
    conn.execute("DELETE FROM batches WHERE (source_id, batch_id) IN (SELECT source_id, batch_id "
                 "FROM batches WHERE received_ms < ? LIMIT ?)", (cutoff_ms, chunk))
    return n
