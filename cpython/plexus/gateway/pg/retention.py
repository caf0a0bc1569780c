"""`plexus gateway --retention AGE` on PostgreSQL: every `every_s` seconds
the whole days of points older than AGE are dropped as partitions (cheap,
no row deletes), on a connection and thread of its own, as the SQLite
store's Retention does (same start/stop)."""

import asyncio
import logging
import threading

from plexus.gateway.store import now_ms

log = logging.getLogger("plexus.gateway")


class PgRetention:
    def __init__(self, url, keep_ms, every_s=3600.0):
        self.url, self.keep_ms, self.every_s = url, keep_ms, every_s
        self.dropped = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="gateway-retention",
                                        daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(30)

    async def _run(self):
        from plexus.gateway.pg.store import PostgresStore
        from plexus.gateway.storage import StoreUnavailable
        store = PostgresStore(self.url, pool_size=1)
        try:
            await store.open()
            while not self._stop.is_set():
                try:
                    names = await store.drop_points_before(now_ms() - self.keep_ms)
                    if names:
                        self.dropped += names
                        log.info("retention: dropped %d day(s) of points older than %d days", len(names),
                                 self.keep_ms // 86400000)
                except StoreUnavailable as e:  # tried again at the next sweep
                    log.error("retention sweep failed: %s", e)
                await asyncio.to_thread(self._stop.wait, self.every_s)
        except StoreUnavailable as e:
            log.error("retention cannot reach the database: %s", e)
        finally:
            await store.aclose()
