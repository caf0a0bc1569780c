"""SQLite plumbing for the gateway: the schema, one writer thread that groups
concurrent writes into one transaction (group commit), and reader threads.

Acknowledgements wait for the writer's commit, and the database runs in WAL
mode with synchronous=FULL, so an acknowledged batch survives a power cut.
Grouping keeps that affordable: one fsync covers every batch that arrived
while the previous commit was running.
"""

import concurrent.futures
import os
import queue
import sqlite3
import threading
import urllib.parse

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, hint TEXT NOT NULL,
    scopes TEXT NOT NULL, source_id TEXT, created_ms INTEGER NOT NULL, revoked_ms INTEGER);
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY, source_id TEXT NOT NULL, metric TEXT NOT NULL, class TEXT NOT NULL,
    ts INTEGER NOT NULL, num REAL, value TEXT NOT NULL, tags TEXT, received_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS points_by_metric ON points (source_id, class, metric, ts);
CREATE INDEX IF NOT EXISTS points_events ON points (source_id, ts) WHERE class = 'event';
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


GATEWAY_TABLES = ("keys", "points")


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


STATEMENT_CACHE = 512  # prepared statements a connection keeps (gateway/sqlite/points.py makes up to 256)


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
    conn.executescript(SCHEMA)
    return conn


class GroupWriter:
    """One thread owns the write connection. Jobs submitted while a commit is
    running are committed together. When one job of a group fails, the group
    is run again with each job under a savepoint of its own, so one failing
    job does not undo the others.

    A group is never held back to gather more: a client that waits for each
    answer (plexus-python 0.16 does) would wait for every hold, and under a
    fleet's load jobs queue up during each commit anyway."""

    MAX_GROUP = 1024

    def __init__(self, path):
        self._conn = connect(path)
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="gateway-writer", daemon=True)
        self._thread.start()

    def submit(self, fn, *args):
        fut = concurrent.futures.Future()
        self._jobs.put((fut, fn, args))
        return fut

    def submit_async(self, loop, fn, *args):
        """Like submit, as a future of the asyncio `loop`: a group's results
        reach the loop in one wake-up instead of one per job (the hot path)."""
        fut = loop.create_future()
        self._jobs.put((fut, fn, args))
        return fut

    def close(self):
        self._jobs.put(None)
        self._thread.join(30)
        self._conn.close()

    def _run(self):
        while True:
            first = self._jobs.get()
            if first is None:
                return
            group = [first]
            while len(group) < self.MAX_GROUP:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)
                    break
                group.append(job)
            self._commit(group)

    def _commit(self, group):
        try:
            results = self._transaction(group, False)
            if results is None:  # a job failed: again, each job under a savepoint of its own
                results = self._transaction(group, True)
        except Exception as e:  # the commit itself failed: nobody's work is stored
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            results = [(fut, False, e) for fut, _, _ in group]
        _deliver(results)

    def _transaction(self, group, savepoints):
        """Run and commit the group's jobs; without savepoints (the usual case,
        two statements a job cheaper) None as soon as one fails, rolled back."""
        conn = self._conn
        results = []
        conn.execute("BEGIN IMMEDIATE")
        for fut, fn, args in group:
            if not savepoints:
                try:
                    results.append((fut, True, fn(conn, *args)))
                except Exception:
                    conn.execute("ROLLBACK")
                    return None
                continue
            conn.execute("SAVEPOINT job")
            try:
                results.append((fut, True, fn(conn, *args)))
                conn.execute("RELEASE job")
            except Exception as e:  # reported to that job's caller
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                results.append((fut, False, e))
        conn.execute("COMMIT")
        return results


def _deliver(results):
    on_loops = {}
    for r in results:
        if isinstance(r[0], concurrent.futures.Future):
            _settle(r)
        else:
            on_loops.setdefault(r[0].get_loop(), []).append(r)
    for loop, rs in on_loops.items():
        try:
            loop.call_soon_threadsafe(_settle_all, rs)
        except RuntimeError:  # that loop is closed: nobody waits for these any more
            pass


def _settle_all(results):
    for r in results:
        _settle(r)


def _settle(r):
    fut, ok, value = r
    if fut.cancelled():  # its waiter gave up; the write itself is done
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


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
