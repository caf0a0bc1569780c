"""SQLite plumbing for the gateway: the schema, the group commit that puts
concurrent writes into one transaction (run by writer_process.py), and
reader threads.

Acknowledgements wait for the writer's commit, and the database runs in WAL
mode with synchronous=FULL, so an acknowledged batch survives a power cut.
Grouping keeps that affordable: one fsync covers every batch that arrived
while the previous commit was running.
"""

import concurrent.futures
import os
import sqlite3
import threading
import urllib.parse

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, hint TEXT NOT NULL,
    scopes TEXT NOT NULL, source_id TEXT, created_ms INTEGER NOT NULL, revoked_ms INTEGER);
CREATE TABLE IF NOT EXISTS points_indexed (
    id INTEGER PRIMARY KEY, source_id TEXT NOT NULL, metric TEXT NOT NULL, class TEXT NOT NULL,
    ts INTEGER NOT NULL, num REAL, value TEXT NOT NULL, tags TEXT, received_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS points_by_metric ON points_indexed (source_id, class, metric, ts);
CREATE INDEX IF NOT EXISTS points_events ON points_indexed (source_id, ts) WHERE class = 'event';
CREATE TABLE IF NOT EXISTS points_recent (
    source_id TEXT NOT NULL, id INTEGER NOT NULL, metric TEXT NOT NULL, class TEXT NOT NULL,
    ts INTEGER NOT NULL, num REAL, value TEXT NOT NULL, tags TEXT, received_ms INTEGER NOT NULL,
    PRIMARY KEY (source_id, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS point_ids (one INTEGER PRIMARY KEY CHECK (one = 1), last INTEGER NOT NULL);
CREATE VIEW IF NOT EXISTS points AS
    SELECT id, source_id, metric, class, ts, num, value, tags, received_ms FROM points_indexed
    UNION ALL
    SELECT id, source_id, metric, class, ts, num, value, tags, received_ms FROM points_recent;
CREATE TABLE IF NOT EXISTS metric_names (
    source_id TEXT NOT NULL, metric TEXT NOT NULL, PRIMARY KEY (source_id, metric)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    source_id TEXT NOT NULL, batch_id TEXT NOT NULL, received_ms INTEGER NOT NULL,
    PRIMARY KEY (source_id, batch_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sources (
    source_id TEXT PRIMARY KEY, last_seen_ms INTEGER, platform TEXT, agent_version TEXT,
    commands TEXT, cameras TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, source_id TEXT NOT NULL, command TEXT NOT NULL, params TEXT NOT NULL,
    created_ms INTEGER NOT NULL, deadline_ms INTEGER NOT NULL, idempotent INTEGER NOT NULL,
    attempt INTEGER NOT NULL, state TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0, progress REAL,
    result TEXT, error_code TEXT, error_message TEXT, message TEXT, statuses TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS test_runs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, source_id TEXT, started_ms INTEGER NOT NULL, ended_ms INTEGER,
    status TEXT NOT NULL, body TEXT NOT NULL, test_result TEXT);
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY, source_id TEXT NOT NULL, command TEXT NOT NULL, params TEXT NOT NULL,
    created_ms INTEGER NOT NULL, events TEXT NOT NULL DEFAULT '[]');
"""


class DatabaseProblem(ValueError):
    """A --db path the gateway must not use; the message says what to do."""


GATEWAY_TABLES = ("keys", "points_indexed", "points")  # "points": a file from before points_indexed


def check(path, may_create=True, make_dir=False):
    """Refuse a path that is not a gateway database before anything opens it:
    a missing directory (created only when `make_dir`), a missing file unless
    `may_create`, a file that is not SQLite, or a SQLite file of something else."""
    if path == ":memory:":
        return
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        if not make_dir:
            raise DatabaseProblem("the directory %s does not exist (for --db %s): create it first "
                                  "(mkdir -p %s) or pick another path; it is not created for you"
                                  % (d, path, d))
        os.makedirs(d, exist_ok=True)
    if not os.path.exists(path):
        if not may_create:
            raise DatabaseProblem("there is no gateway database at %s: check the --db path (the "
                                  "gateway's default is ~/.plexus/gateway.db), or pass --create "
                                  "to start a new one" % path)
        return
    if os.path.isdir(path):
        raise DatabaseProblem("--db %s is a directory: give a file name such as %s"
                              % (path, os.path.join(path, "gateway.db")))
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path)), uri=True,
                               timeout=10)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise DatabaseProblem("%s is not a gateway database (SQLite says: %s): pass --db with "
                              "another file name, or move that file away" % (path, e)) from None
    if tables and not any(t in tables for t in GATEWAY_TABLES):
        raise DatabaseProblem("%s is a SQLite database of something else (tables: %s): pass --db "
                              "with another file name" % (path, ", ".join(sorted(tables)[:5])))


STATEMENT_CACHE = 600  # prepared statements a connection keeps (gateway/sqlite/points.py makes up to 512)


def connect(path):
    """A connection with the gateway's settings; creates the schema."""
    if path != ":memory:":
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False,
                           cached_statements=STATEMENT_CACHE)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    _split_points(conn)
    conn.executescript(SCHEMA)
    return conn


def _split_points(conn):
    """A file from before points were kept in two tables (gateway/sqlite/points.py):
    its points table becomes points_indexed, and the view `points` over both
    takes its name, in one transaction, so a reader always finds `points`."""
    is_table = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='points'"
    if conn.execute(is_table).fetchone() is None:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute(is_table).fetchone() is not None:  # not done meanwhile by another connection
            conn.execute("ALTER TABLE points RENAME TO points_indexed")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


MAX_GROUP = 1024  # write jobs in one transaction at most
ON_ROLLBACK = []  # called when work is rolled back: caches of what was committed forget it


def _rolled_back():
    for forget in ON_ROLLBACK:
        forget()


def commit_group(conn, group):
    """Run a group of write jobs [(key, fn, args)], each fn(conn, *args), in
    one transaction and commit it; [(key, ok, value or exception)] in order.
    When one job fails, the group is run again with each job under a
    savepoint of its own, so one failing job does not undo the others. When
    the commit itself fails, nobody's work is stored and every job has the
    error. (writer_process.py forms the groups: whatever arrived while the
    previous commit ran, never held back to gather more.)"""
    try:
        results = _transaction(conn, group, False)
        if results is None:  # a job failed: again, each job under a savepoint of its own
            results = _transaction(conn, group, True)
    except Exception as e:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        _rolled_back()
        results = [(key, False, e) for key, _, _ in group]
    return results


def _transaction(conn, group, savepoints):
    """Run and commit the group's jobs; without savepoints (the usual case,
    two statements a job cheaper) None as soon as one fails, rolled back.
    Without savepoints, a run of jobs whose function has a `many` (one call
    for all their argument tuples, a result each) is one call."""
    results = []
    conn.execute("BEGIN IMMEDIATE")
    i = 0
    while i < len(group):
        key, fn, args = group[i]
        if not savepoints:
            many = getattr(fn, "many", None)
            end = i + 1
            while many is not None and end < len(group) and group[end][1] is fn:
                end += 1
            try:
                if end - i > 1:
                    values = many(conn, [job[2] for job in group[i:end]])
                    results.extend((job[0], True, v) for job, v in zip(group[i:end], values))
                else:
                    results.append((key, True, fn(conn, *args)))
            except Exception:
                conn.execute("ROLLBACK")
                _rolled_back()
                return None
            i = end
            continue
        conn.execute("SAVEPOINT job")
        try:
            results.append((key, True, fn(conn, *args)))
            conn.execute("RELEASE job")
        except Exception as e:  # reported to that job's caller
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            _rolled_back()
            results.append((key, False, e))
        i += 1
    conn.execute("COMMIT")
    return results


class Readers:
    """Reader threads, each with its own connection (WAL readers never block
    the writer)."""

    def __init__(self, path, threads=2):
        self._path = path
        self._local = threading.local()
        self._conns = []
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="gateway-reader")

    def submit(self, fn, *args):
        return self._pool.submit(self._call, fn, args)

    def _call(self, fn, args):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self._path)
            with self._lock:
                self._conns.append(conn)
        return fn(conn, *args)

    def close(self):
        self._pool.shutdown(wait=True)
        with self._lock:
            for c in self._conns:
                c.close()
