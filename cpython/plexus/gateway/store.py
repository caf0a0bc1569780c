"""The gateway's storage interface, on SQLite.

Every method is a coroutine so the server never waits on disk on its event
loop. Another backend (PostgreSQL) implements the same methods.
"""

import asyncio
import json
import logging
import sqlite3
import threading
import time

from plexus.gateway import db, keys
from plexus.gateway.storage import Store

MAX_ROWS = 10000  # Data API results are capped here and flagged `truncated`
TS_END = 2 ** 63 - 1  # the largest stored timestamp (ms)
LATEST_WINDOW_MS = 3600000  # `latest` looks at the last hour (and any later time), as the hosted API does


def stored_ts(p, received_ms):
    """A point's stored time: its own (any finite number is taken, kept to the
    64 bits a store holds) or, without one, when it was received."""
    ts = p["timestamp"]
    if ts is None:
        return received_ms
    if not -TS_END <= ts <= TS_END:
        return TS_END if ts > 0 else -TS_END
    return int(ts)


def now_ms():
    return int(time.time() * 1000)


def store_unavailable(e):
    """True when a write failed because of the database (disk full, I/O,
    locked): worth retrying. Anything else is about the data itself."""
    return isinstance(e, (sqlite3.OperationalError, sqlite3.DatabaseError, OSError)) and \
        not isinstance(e, sqlite3.IntegrityError)


def _log_failure(fut):
    if not fut.cancelled() and fut.exception() is not None:
        logging.getLogger("plexus.gateway").error("background write failed: %s", fut.exception())


def _dumps(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


# -- write jobs: run on the writer thread inside its transaction ---------------

def _insert_batch(conn, source_id, batch_id, points, received_ms):
    if batch_id is not None:
        cur = conn.execute("INSERT OR IGNORE INTO batches VALUES (?,?,?)", (source_id, batch_id, received_ms))
        if cur.rowcount == 0:
            return None  # a resend of a stored batch: acknowledged, not stored twice
    rows = []
    for p in points:
        v = p["value"]
        if p["class"] == "metric":  # a finite int or float: repr() is its JSON text, ~10x cheaper
            num, text = float(v), repr(v)  # REAL: an int past 2**63 is no INTEGER
        else:
            num, text = None, _dumps(v)
        tags = p.get("tags")
        ts = stored_ts(p, received_ms)
        rows.append((source_id, p["metric"], p["class"], ts, num, text, _dumps(tags) if tags else None,
                     received_ms))
    conn.executemany("INSERT INTO points (source_id, metric, class, ts, num, value, tags, received_ms) "
                     "VALUES (?,?,?,?,?,?,?,?)", rows)
    # Metric names kept apart, so queries over "every metric" probe the one
    # points index by name instead of needing a second index on every row.
    names = set(r[1] for r in rows if r[2] == "metric")
    conn.executemany("INSERT OR IGNORE INTO metric_names VALUES (?,?)", [(source_id, m) for m in names])
    _seen(conn, source_id, received_ms)
    return len(rows)


def _seen(conn, source_id, t):
    conn.execute("INSERT INTO sources (source_id, last_seen_ms) VALUES (?,?) ON CONFLICT(source_id) "
                 "DO UPDATE SET last_seen_ms=max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)",
                 (source_id, t))


def _describe_source(conn, source_id, t, platform, agent_version, commands, cameras):
    _seen(conn, source_id, t)
    conn.execute("UPDATE sources SET platform=?, agent_version=?, commands=?, "
                 "cameras=coalesce(?, cameras) WHERE source_id=?",
                 (platform, agent_version, _dumps(commands or []),
                  _dumps(cameras) if cameras is not None else None, source_id))


def _add_camera(conn, source_id, camera_id):
    row = conn.execute("SELECT cameras FROM sources WHERE source_id=?", (source_id,)).fetchone()
    cams = json.loads(row[0]) if row and row[0] else []
    if camera_id not in cams:
        cams.append(camera_id)
        conn.execute("UPDATE sources SET cameras=? WHERE source_id=?", (_dumps(cams), source_id))


def _delete_source(conn, source_id):
    """Everything stored for one source; its batch ids too, so the source
    starts afresh. Returns the number of points deleted."""
    n = conn.execute("DELETE FROM points WHERE source_id=?", (source_id,)).rowcount
    for table in ("metric_names", "batches", "sources"):
        conn.execute("DELETE FROM %s WHERE source_id=?" % table, (source_id,))
    return n


RETENTION_CHUNK = 5000  # rows per transaction: the writer is never held for long


def delete_older_than(conn, cutoff_ms, chunk=RETENTION_CHUNK):
    """Delete one chunk of points (and batch ids) older than cutoff_ms by
    their timestamp; returns how many points went. Call until it returns 0."""
    n = conn.execute("DELETE FROM points WHERE id IN (SELECT id FROM points WHERE ts < ? LIMIT ?)",
                     (cutoff_ms, chunk)).rowcount
    conn.execute("DELETE FROM batches WHERE (source_id, batch_id) IN (SELECT source_id, batch_id "
                 "FROM batches WHERE received_ms < ? LIMIT ?)", (cutoff_ms, chunk))
    return n


# -- read jobs ----------------------------------------------------------------

def _source_row(row):
    return {"source_id": row[0], "last_seen_ms": row[1],
            "commands": json.loads(row[2]) if row[2] else [],
            "cameras": json.loads(row[3]) if row[3] else []}


def _sources(conn):
    rows = conn.execute("SELECT source_id, last_seen_ms, commands, cameras FROM sources ORDER BY source_id")
    return [_source_row(r) for r in rows]


def _source(conn, source_id):
    r = conn.execute("SELECT source_id, last_seen_ms, commands, cameras FROM sources WHERE source_id=?",
                     (source_id,)).fetchone()
    return _source_row(r) if r else None


def _metric_names(conn, source_id):
    rows = conn.execute("SELECT metric FROM metric_names WHERE source_id=? ORDER BY metric", (source_id,))
    return [r[0] for r in rows]


def _latest(conn, source_id, since_ms):
    rows = conn.execute("SELECT metric, value, max(ts) FROM points WHERE source_id=? AND class='metric' "
                        "AND ts>=? GROUP BY metric", (source_id, since_ms))
    return {r[0]: json.loads(r[1]) for r in rows}


def _metric_filter(conn, source_id, metrics):
    """An `AND metric IN (...)` clause: the names asked for, or all of the source's."""
    metrics = list(metrics) or _metric_names(conn, source_id)
    return " AND metric IN (%s)" % ",".join("?" * len(metrics)), metrics


def _raw(conn, source_id, metrics, start, end):
    where, args = _metric_filter(conn, source_id, metrics)
    rows = conn.execute("SELECT metric, ts, num FROM points WHERE source_id=? AND class='metric' AND ts>=? "
                        "AND ts<=?" + where + " ORDER BY ts, id LIMIT ?",
                        [source_id, start, end] + args + [MAX_ROWS]).fetchall()
    series = {}
    for m, ts, num in rows:
        s = series.setdefault(m, {"timestamp_ms": [], "value": []})
        s["timestamp_ms"].append(ts)
        s["value"].append(num)
    return series, len(rows) >= MAX_ROWS


def _aggregated(conn, source_id, metrics, start, end, bucket_ms):
    where, args = _metric_filter(conn, source_id, metrics)
    base = " FROM points WHERE source_id=? AND class='metric' AND ts>=? AND ts<=?" + where
    total = conn.execute("SELECT count(*) FROM (SELECT 1" + base + " LIMIT ?)",
                         [source_id, start, end] + args + [MAX_ROWS]).fetchone()[0]
    rows = conn.execute("SELECT metric, (ts / ?) * ? AS b, min(num), max(num), avg(num), count(*)" + base +
                        " GROUP BY metric, b ORDER BY b", [bucket_ms, bucket_ms, source_id, start, end] + args)
    series = {}
    for m, b, lo, hi, avg, n in rows:
        s = series.setdefault(m, {"timestamp_ms": [], "min": [], "max": [], "avg": [], "count": []})
        s["timestamp_ms"].append(b)
        s["min"].append(lo)
        s["max"].append(hi)
        s["avg"].append(avg)
        s["count"].append(n)
    return series, total >= MAX_ROWS


def _events(conn, source_id, start, end, name, limit, newest):
    sql = "SELECT ts, metric, value, tags FROM points WHERE source_id=? AND class='event' AND ts>=? AND ts<=?"
    args = [source_id, start, end]
    if name:
        sql += " AND metric=?"
        args.append(name)
    sql += (" ORDER BY ts DESC, id DESC" if newest else " ORDER BY ts, id") + " LIMIT ?"
    rows = conn.execute(sql, args + [limit]).fetchall()
    if newest:
        rows.reverse()
    return [{"timestamp_ms": r[0], "metric": r[1], "value": json.loads(r[2]),
             "tags": json.loads(r[3]) if r[3] else {}} for r in rows]


def _fleet_metric(conn, metric, start, end, bucket_ms, max_buckets):
    """Per source: `timestamp_ms` (bucket start), `avg`, `min`, `max` and
    `count` arrays, at most `max_buckets` buckets in all."""
    rows = conn.execute("SELECT source_id, CAST(ts / ? AS INTEGER) * ? AS b, avg(num), min(num), max(num), "
                        "count(*) FROM points WHERE source_id IN (SELECT source_id FROM metric_names "
                        "WHERE metric=?) AND class='metric' AND metric=? AND ts>=? AND ts<=? "
                        "GROUP BY source_id, b ORDER BY source_id, b LIMIT ?",
                        (bucket_ms, bucket_ms, metric, metric, start, end, max_buckets)).fetchall()
    return fleet_series(rows, max_buckets)


def fleet_series(rows, max_buckets):
    """(source_id, bucket, avg, min, max, count) rows, ordered by source and
    bucket -> ([per-source series of arrays], truncated), for every store."""
    series = {}
    for sid, b, avg, lo, hi, n in rows:
        s = series.setdefault(sid, {"source_id": sid, "timestamp_ms": [], "avg": [], "min": [], "max": [],
                                    "count": []})
        s["timestamp_ms"].append(b)
        s["avg"].append(avg)
        s["min"].append(lo)
        s["max"].append(hi)
        s["count"].append(n)
    return list(series.values()), len(rows) >= max_buckets


# -- commands ---------------------------------------------------------------------

RUN_FIELDS = ("run_id", "source_id", "command", "params", "created_ms", "deadline_ms", "idempotent",
              "attempt", "state", "seq", "progress", "result", "error_code", "error_message", "message",
              "statuses")
_JSON_RUN_FIELDS = ("params", "result", "statuses")


def _run_row(row):
    run = dict(zip(RUN_FIELDS, row))
    for f in _JSON_RUN_FIELDS:
        if run[f] is not None:
            run[f] = json.loads(run[f])
    run["idempotent"] = bool(run["idempotent"])
    return run


def _get_run(conn, run_id):
    r = conn.execute("SELECT %s FROM runs WHERE run_id=?" % ",".join(RUN_FIELDS), (run_id,)).fetchone()
    return _run_row(r) if r else None


def _put_run(conn, run):
    vals = [(_dumps(run[f]) if f in _JSON_RUN_FIELDS and run[f] is not None else run[f]) for f in RUN_FIELDS]
    vals[RUN_FIELDS.index("idempotent")] = int(run["idempotent"])
    conn.execute("INSERT OR REPLACE INTO runs (%s) VALUES (%s)" % (",".join(RUN_FIELDS), ",".join("?" * len(vals))),
                 vals)


def _open_runs(conn, source_id):
    rows = conn.execute("SELECT %s FROM runs WHERE source_id=? AND state NOT IN ('succeeded','failed','expired') "
                        "ORDER BY created_ms" % ",".join(RUN_FIELDS), (source_id,))
    return [_run_row(r) for r in rows]


def _new_command(conn, cid, source_id, command, params, t):
    conn.execute("INSERT INTO commands (id, source_id, command, params, created_ms) VALUES (?,?,?,?,?)",
                 (cid, source_id, command, _dumps(params), t))


def _command_event(conn, cid, source_id, frame):
    row = conn.execute("SELECT events FROM commands WHERE id=? AND source_id=?", (cid, source_id)).fetchone()
    if row is None:
        return False
    events = json.loads(row[0])
    events.append(frame)
    conn.execute("UPDATE commands SET events=? WHERE id=?", (_dumps(events), cid))
    return True


def _get_command(conn, source_id, cid):
    r = conn.execute("SELECT id, command, params, created_ms, events FROM commands WHERE id=? AND source_id=?",
                     (cid, source_id)).fetchone()
    if r is None:
        return None
    return {"id": r[0], "command": r[1], "params": json.loads(r[2]), "created_ms": r[3],
            "events": json.loads(r[4])}


# -- test runs (the app API's run windows) ------------------------------------

def _put_test_run(conn, run):
    conn.execute("INSERT OR REPLACE INTO test_runs VALUES (?,?,?,?,?,?,?,?)",
                 (run["id"], run["name"], run["source_id"], run["started_ms"], run.get("ended_ms"), run["status"],
                  json.dumps(run), json.dumps(run.get("test_result"))))


def _get_test_run(conn, run_id):
    row = conn.execute("SELECT body FROM test_runs WHERE id=?", (run_id,)).fetchone()
    return json.loads(row[0]) if row else None


def _metric_values(conn, source_id, metric, start, end):
    sql = "SELECT num FROM points WHERE class='metric' AND metric=? AND ts>=? AND ts<=?"
    args = [metric, start, end]
    if source_id:
        sql += " AND source_id=?"
        args.append(source_id)
    else:
        sql += " AND source_id IN (SELECT source_id FROM metric_names WHERE metric=?)"
        args.append(metric)
    return [r[0] for r in conn.execute(sql, args)]


class Retention:
    """Deletes points older than `keep_ms` every `every_s` seconds, on its
    own connection and thread (WAL: the gateway keeps writing meanwhile)."""

    def __init__(self, path, keep_ms, every_s=3600.0):
        self.path, self.keep_ms, self.every_s = path, keep_ms, every_s
        self.deleted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-retention", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(30)

    def sweep(self, conn):
        cutoff = now_ms() - self.keep_ms
        total = 0
        while not self._stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            try:
                n = delete_older_than(conn, cutoff)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            total += n
            if n < RETENTION_CHUNK:
                break
        self.deleted += total
        return total

    def _run(self):
        log = logging.getLogger("plexus.gateway")
        conn = db.connect(self.path)
        try:
            while not self._stop.is_set():
                try:
                    n = self.sweep(conn)
                    if n:
                        log.info("retention: deleted %d points older than %d days", n,
                                 self.keep_ms // 86400000)
                except sqlite3.Error as e:  # tried again at the next sweep
                    log.error("retention sweep failed: %s", e)
                self._stop.wait(self.every_s)
        finally:
            conn.close()


class SqliteStore(Store):
    """Storage for one gateway: points, batch ids, sources, keys, commands."""

    def __init__(self, path):
        self.path = path
        self._writer = db.GroupWriter(path)
        self._readers = db.Readers(path)

    def close(self):
        self._writer.close()
        self._readers.close()

    def _write(self, fn, *args):
        return self._writer.submit_async(asyncio.get_running_loop(), fn, *args)

    def _read(self, fn, *args):
        return asyncio.wrap_future(self._readers.submit(fn, *args))

    # device side
    def store_batch(self, source_id, batch_id, points):
        """Stores the points durably; the stored count, or None if `batch_id`
        was already stored for this source."""
        return self._write(_insert_batch, source_id, batch_id, points, now_ms())

    def describe_source(self, source_id, platform, agent_version, commands, cameras):
        return self._write(_describe_source, source_id, now_ms(), platform, agent_version, commands, cameras)

    def touch_source(self, source_id):
        """Fire and forget: failures are logged."""
        self._write(_seen, source_id, now_ms()).add_done_callback(_log_failure)

    def add_camera(self, source_id, camera_id):
        """Fire and forget: failures are logged."""
        self._write(_add_camera, source_id, camera_id).add_done_callback(_log_failure)

    def key(self, presented):
        return self._read(keys.find, presented)

    def create_key(self, name=None, scopes=keys.DEFAULT_SCOPES, source_id=None):
        return self._write(keys.create, name, scopes, source_id)

    def list_keys(self):
        return self._read(keys.listing)

    def revoke_key(self, ident):
        return self._write(keys.revoke, ident)

    # Data API
    def sources(self):
        return self._read(_sources)

    def source(self, source_id):
        return self._read(_source, source_id)

    def metric_names(self, source_id):
        return self._read(_metric_names, source_id)

    def latest(self, source_id):
        return self._read(_latest, source_id, now_ms() - LATEST_WINDOW_MS)

    def raw(self, source_id, metrics, start, end):
        return self._read(_raw, source_id, metrics, start, end)

    def aggregated(self, source_id, metrics, start, end, bucket_ms):
        return self._read(_aggregated, source_id, metrics, start, end, bucket_ms)

    def events(self, source_id, start, end, name=None, limit=1000, newest=False):
        return self._read(_events, source_id, start, end, name, limit, newest)

    def fleet_metric(self, metric, start, end, bucket_ms, max_buckets=MAX_ROWS):
        """([per-source bucket series], truncated)."""
        return self._read(_fleet_metric, metric, start, end, bucket_ms, max_buckets)

    def delete_source(self, source_id):
        return self._write(_delete_source, source_id)

    def delete_older_than(self, cutoff_ms):
        return self._write(delete_older_than, cutoff_ms)

    # commands
    def put_run(self, run):
        return self._write(_put_run, run)

    def get_run(self, run_id):
        return self._read(_get_run, run_id)

    def open_runs(self, source_id):
        return self._read(_open_runs, source_id)

    def new_command(self, cid, source_id, command, params):
        return self._write(_new_command, cid, source_id, command, params, now_ms())

    def command_event(self, cid, source_id, frame):
        return self._write(_command_event, cid, source_id, frame)

    def get_command(self, source_id, cid):
        return self._read(_get_command, source_id, cid)

    # test runs
    def put_test_run(self, run):
        return self._write(_put_test_run, run)

    def get_test_run(self, run_id):
        return self._read(_get_test_run, run_id)

    def metric_values(self, source_id, metric, start, end):
        return self._read(_metric_values, source_id, metric, start, end)
