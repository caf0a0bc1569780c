"""`plexus gateway --retention AGE` on SQLite: points older than AGE are
deleted in small chunks on a connection and thread of their own (WAL: the
gateway keeps writing meanwhile)."""

import logging
import sqlite3
import threading

from plexus.gateway import db
from plexus.gateway.sqlite.points import RETENTION_CHUNK, delete_older_than
from plexus.gateway.store import now_ms


class Retention:
    """Deletes points older than `keep_ms` every `every_s` seconds."""

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
