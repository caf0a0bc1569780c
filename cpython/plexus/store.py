"""Store-and-forward: readings waiting for the gateway's acknowledgement.

A row is one batch: its readings as compact JSON joined by "," (exactly the
body of a telemetry frame), its point count and its batch id. Rows are
written once when the linger window closes and deleted only when the gateway
acknowledges the batch, so the unacknowledged window survives a crash and a
resend carries the same id, which our gateway stores once. SQLite keeps the
data as a BLOB of that ASCII text: its length is then known without reading
it (LENGTH of TEXT reads every page of a large row). Rows written as TEXT by
earlier versions read back the same.

Row keys order everything (oldest first) and leave room to split a row in
place: key = k << SUB_BITS | offset, where k numbers batches as they are cut
and offset is the index of a row's first reading within its batch. A batch the
gateway rejects as invalid is split into halves at their offsets (ids derived
from the batch id and the range, so a resend after a crash is identical),
until the bad reading is alone and can be dropped.

SqliteStore (per-source file, WAL, inserts synchronous=FULL: a committed
batch survives a process kill and a power cut) and MemoryStore (bounded, lost with
the process) have the same methods. Both evict the oldest rows when over
capacity and return how many readings went, so the caller counts them.
"""

import bisect
import json
import os
import secrets
import sqlite3
import threading

from plexus_core.points import encode_point
from plexus_core.wire import check_wire_point

SUB_BITS = 14  # offsets < 16384 > 10,000 points per batch

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id   INTEGER PRIMARY KEY,   -- k << 14 | offset: order of sending
    bid  TEXT NOT NULL,         -- batch id sent with it (dedup at the gateway)
    n    INTEGER NOT NULL,      -- readings in it
    data TEXT NOT NULL          -- readings as JSON, joined by ','
)
"""


def _token():
    # Batch ids must be unique per source forever, also when the file is
    # deleted and numbering starts again: a fresh random prefix per open.
    return secrets.token_hex(6)


def split_row(row):
    """Halves of a row as (key, bid, n, data) tuples, readings in order."""
    key, bid, n, data = row
    pts = [encode_point(p) for p in json.loads("[" + data + "]")]
    h = len(pts) // 2
    root = bid.split("/")[0]
    off = key & ((1 << SUB_BITS) - 1)
    base = key - off
    a = (key, "%s/%d+%d" % (root, off, h), h, ",".join(pts[:h]))
    b = (base + off + h, "%s/%d+%d" % (root, off + h, len(pts) - h), len(pts) - h,
         ",".join(pts[h:]))
    return a, b


def _text(row):
    """A row as the sender uses it: data as str (stored as a BLOB, or as TEXT by earlier versions)."""
    d = row[3]
    return row if type(d) is str else (row[0], row[1], row[2], d.decode())


def _legacy_point(data):
    """A plexus-python buffer row, checked like the gateway will check it."""
    p = check_wire_point(json.loads(data), False)
    if p["timestamp"] is None:
        del p["timestamp"]
    return encode_point(p)


class _Base:
    """Counters, key and id assignment shared by both stores."""

    def __init__(self, max_points, max_bytes):
        self.max_points = max_points
        self.max_bytes = max_bytes
        self.points = 0
        self.nbytes = 0
        self._token = _token()
        self._next_k = 1
        self._lock = threading.RLock()
        self.closed = False
        self.evicted_through = -1  # every key at or below this was evicted (oldest go first)

    def _new_rows(self, batches):
        rows = []
        for n, data in batches:
            k = self._next_k
            self._next_k += 1
            rows.append((k << SUB_BITS, "%s-%d" % (self._token, k), n, data))
        return rows

    def merged_row(self, rows):
        """One row holding `rows` (never sent: the caller guarantees it)."""
        first = rows[0][0]
        last = rows[-1][0] >> SUB_BITS
        bid = "%s-%d-%d" % (self._token, first >> SUB_BITS, last)
        return (first, bid, sum(r[2] for r in rows), ",".join(r[3] for r in rows))

    def add(self, batches):
        """Append batches [(n, data)]; returns readings evicted to make room."""
        return self.append(batches)[1]

    def _over(self, extra_points=0, extra_bytes=0):
        return (self.points + extra_points > self.max_points
                or (self.max_bytes is not None and self.nbytes + extra_bytes > self.max_bytes))

    def resize(self, max_points):
        with self._lock:
            self.max_points = max_points
            return self._evict(0, 0)

    @property
    def first_new_key(self):
        """Keys at or above this were cut by this process (nothing older is 'fresh')."""
        return self._next_k << SUB_BITS


class MemoryStore(_Base):
    """Bounded in-memory store (persistent_buffer=False): same semantics, no disk."""

    def __init__(self, max_points=10000, max_bytes=None):
        super().__init__(max_points, max_bytes)
        self._keys = []
        self._rows = {}

    def append(self, batches):
        """Append batches [(n, data)]; returns (the new rows, readings evicted)."""
        with self._lock:
            if self.closed:
                raise OSError("store is closed")
            # Insert, then evict oldest-first: one add larger than the cap
            # must not leave the store over it.
            rows = self._new_rows(batches)
            for r in rows:
                self._put(r)
            return rows, self._evict(0, 0)

    def _put(self, r):
        bisect.insort(self._keys, r[0])
        self._rows[r[0]] = r
        self.points += r[2]
        self.nbytes += len(r[3])

    def _drop(self, key):
        r = self._rows.pop(key, None)
        if r is None:
            return 0
        i = bisect.bisect_left(self._keys, key)
        del self._keys[i]
        self.points -= r[2]
        self.nbytes -= len(r[3])
        return r[2]

    def _evict(self, n, size):
        gone = 0
        while self._keys and self._over(n, size):
            self.evicted_through = self._keys[0]
            gone += self._drop(self._keys[0])
        return gone

    def rows(self, after=-1, limit=32):
        with self._lock:
            i = bisect.bisect_right(self._keys, after)
            return [self._rows[k] for k in self._keys[i:i + limit]]

    def heads(self, after=-1, limit=32):
        """Like rows() without the data: (key, bid, n, size)."""
        return [(r[0], r[1], r[2], len(r[3])) for r in self.rows(after, limit)]

    def get(self, key):
        with self._lock:
            return self._rows.get(key)

    def delete(self, keys):
        with self._lock:
            return sum(self._drop(k) for k in keys)

    def replace(self, old_keys, new_rows):
        """Atomically swap rows (merge or split); returns False if any old row is gone."""
        with self._lock:
            if self.closed or any(k not in self._rows for k in old_keys):
                return False
            for k in old_keys:
                self._drop(k)
            for r in new_rows:
                self._put(r)
            return True

    def close(self):
        with self._lock:
            self.closed = True


class SqliteStore(_Base):
    """Per-source SQLite file in WAL mode; every commit is durable (synchronous=FULL)."""

    def __init__(self, path, max_points=500000, max_bytes=256 * 1024 * 1024, adopt=()):
        super().__init__(max_points, max_bytes)
        self.path = str(path)
        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self.adopted = 0
        self.invalid = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(SCHEMA)
                top, self.points, self.nbytes = self._db.execute(
                    "SELECT COALESCE(MAX(id), 0), COALESCE(SUM(n), 0), "
                    "COALESCE(SUM(LENGTH(data)), 0) FROM batches").fetchone()
                self._next_k = (top >> SUB_BITS) + 1
                self._adopt_points_table(self._db)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        for legacy in adopt:
            self._adopt_file(legacy)

    # -- plexus-python buffers: points(id, data) with one JSON point per row --

    def _adopt_points_table(self, db, chunk=5000):
        """Move rows of a plexus-python `points` table into batches, in order.

        Runs inside the caller's transaction, so each reading moves exactly
        once even when two processes start together. Readings the gateway
        would reject are counted in `invalid` and left out."""
        has = db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='points'"
                         ).fetchone()
        if not has:
            return
        last = -1
        while True:
            got = db.execute("SELECT id, data FROM points WHERE id > ? ORDER BY id LIMIT ?",
                             (last, chunk)).fetchall()
            if not got:
                break
            last = got[-1][0]
            enc = []
            for _, data in got:
                try:
                    enc.append(_legacy_point(data))
                except (ValueError, TypeError):
                    self.invalid += 1
            if enc:
                rows = self._new_rows([(len(enc), ",".join(enc))])
                self._insert(rows)
                self.adopted += len(enc)
        db.execute("DROP TABLE points")

    def _adopt_file(self, path):
        if not os.path.exists(str(path)):
            return
        try:
            other = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            other.execute("BEGIN IMMEDIATE")
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._adopt_into(other)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            other.execute("COMMIT")  # after ours: a crash in between duplicates, never loses
        except sqlite3.Error:
            pass
        finally:
            other.close()

    def _adopt_into(self, other):
        has = other.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='points'"
                            ).fetchone()
        if not has:
            return
        enc = []
        for (data,) in other.execute("SELECT data FROM points ORDER BY id"):
            try:
                enc.append(_legacy_point(data))
            except (ValueError, TypeError):
                self.invalid += 1
        for i in range(0, len(enc), 5000):
            part = enc[i:i + 5000]
            self._insert(self._new_rows([(len(part), ",".join(part))]))
            self.adopted += len(part)
        other.execute("DELETE FROM points")

    # -- the store interface ----------------------------------------------------

    def _insert(self, rows):
        self._db.executemany("INSERT INTO batches (id, bid, n, data) VALUES (?, ?, ?, ?)",
                             [(r[0], r[1], r[2], r[3].encode()) for r in rows])
        for r in rows:
            self.points += r[2]
            self.nbytes += len(r[3])

    def _delete_keys(self, keys):
        gone = 0
        for i in range(0, len(keys), 500):  # under SQLite's limit of bound values
            part = list(keys[i:i + 500])
            where = " WHERE id IN (%s)" % ",".join("?" * len(part))
            n, size = self._db.execute("SELECT COALESCE(SUM(n), 0), COALESCE(SUM(LENGTH(data)), 0)"
                                       " FROM batches" + where, part).fetchone()
            if n or size:
                self._db.execute("DELETE FROM batches" + where, part)
                gone += n
                self.points -= n
                self.nbytes -= size
        return gone

    def _evict(self, n, size):
        gone = 0
        while self._over(n, size) and self.points > 0:
            keys = [r[0] for r in self._db.execute(
                "SELECT id FROM batches ORDER BY id LIMIT 16").fetchall()]
            if not keys:
                break
            for k in keys:
                if not self._over(n, size):
                    break
                self.evicted_through = k
                gone += self._delete_keys([k])
        return gone

    def _tx(self, fn, *args):
        with self._lock:
            if self.closed:
                raise OSError("store is closed")
            self._db.execute("BEGIN IMMEDIATE")
            p, b = self.points, self.nbytes
            try:
                out = fn(*args)
                # The counters say what is durably stored: they move after the
                # COMMIT (a flush never sees rows gone before their delete is).
                dp, db = self.points - p, self.nbytes - b
                self.points, self.nbytes = p, b
                self._db.execute("COMMIT")
                self.points += dp
                self.nbytes += db
                return out
            except BaseException:
                self.points, self.nbytes = p, b
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def append(self, batches):
        """Append batches [(n, data)] in one transaction; returns (the new
        rows, readings evicted)."""
        def do():
            rows = self._new_rows(batches)
            self._insert(rows)
            return rows, self._evict(0, 0)  # after inserting: one large add cannot overflow the cap
        return self._tx(do)

    def rows(self, after=-1, limit=32):
        with self._lock:
            if self.closed:
                return []
            return [_text(r) for r in self._db.execute(
                "SELECT id, bid, n, data FROM batches WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit))]

    def heads(self, after=-1, limit=32):
        """Like rows() without the data (rows may be ~1 MB): (key, bid, n, size)."""
        with self._lock:
            if self.closed:
                return []
            return self._db.execute(
                "SELECT id, bid, n, LENGTH(data) FROM batches WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit)).fetchall()

    def get(self, key):
        with self._lock:
            if self.closed:
                return None
            r = self._db.execute("SELECT id, bid, n, data FROM batches WHERE id = ?",
                                 (key,)).fetchone()
            return None if r is None else _text(r)

    def delete(self, keys):
        if not keys:
            return 0
        with self._lock:
            if self.closed:
                return 0
            # A delete lost to a power cut only means a resend, which the batch
            # id makes harmless: no fsync for it (the next insert syncs it).
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                return self._tx(self._delete_keys, keys)
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def replace(self, old_keys, new_rows):
        def do():
            for k in old_keys:
                if not self._db.execute("SELECT 1 FROM batches WHERE id = ?", (k,)).fetchone():
                    return False
            self._delete_keys(old_keys)
            self._insert(new_rows)
            return True
        with self._lock:
            if self.closed:
                return False
            return self._tx(do)

    def close(self):
        with self._lock:
            if not self.closed:
                self.closed = True
                self._db.close()
