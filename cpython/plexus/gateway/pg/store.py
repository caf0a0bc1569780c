"""The store interface (storage.Store) on PostgreSQL, through an asyncpg
connection pool.

Telemetry goes through writer tasks that group every batch waiting at that
moment into one transaction (group commit, pg/points.py). Futures resolve
after COMMIT returns: nothing is acknowledged earlier.

When the server goes away every call fails fast with StoreUnavailable while
one task reconnects with backoff; the gateway answers 503 / closes device
sockets with 1013 meanwhile, and devices keep their data buffered.

The SQL is in the topic modules beside this one.
"""

import asyncio
import logging

import asyncpg

from plexus.gateway import keys as keymaker
from plexus.gateway.pg import keys, points, presence, queries, runs, schema, sources
from plexus.gateway.storage import Store, StoreUnavailable, redact_url
from plexus.gateway.store import LATEST_WINDOW_MS, MAX_ROWS, now_ms

log = logging.getLogger("plexus.gateway")

MAX_GROUP = 256
WRITERS = 2      # group commits in flight at once: one fills while the other waits for its fsync
BACKOFF_S = (0.2, 0.5, 1, 2, 5)


def _unavailable(e):
    """False only when the server refused the data itself (SQLSTATE class 22
    data exception, 23 integrity, 54 too large). Anything else may have been
    a cut during COMMIT: the caller retries (batch ids make that safe) rather
    than have a device split and resend what may already be stored."""
    state = getattr(e, "sqlstate", None) or ""
    return not (isinstance(e, asyncpg.PostgresError) and state[:2] in ("22", "23", "54"))


async def _keep_session(conn):
    """Pool connections go back as they are: this store sets no session state
    (its locks are per transaction, LISTEN has a connection of its own), so
    the default reset would be one more round trip per call for nothing."""


class _Job:
    __slots__ = ("source_id", "batch_id", "points", "received_ms", "fut")

    def __init__(self, source_id, batch_id, points, received_ms):
        self.source_id = source_id
        self.batch_id = batch_id
        self.points = points
        self.received_ms = received_ms
        self.fut = asyncio.get_running_loop().create_future()


class PostgresStore(Store):
    def __init__(self, url, pool_size=8):
        self.url = url
        self.pool_size = pool_size
        self.cluster = None          # announces what was committed to other replicas
        self._pool = None
        self._queue = None
        self._writers = []
        self._down = None            # the reconnect task while the server is unreachable
        self._partitions = set()     # day numbers known to exist
        self._background = set()

    # -- life cycle -------------------------------------------------------------------
    async def open(self):
        try:
            self._pool = await asyncpg.create_pool(self.url, min_size=0, max_size=self.pool_size,
                                                   command_timeout=60, timeout=10, reset=_keep_session)
            async with self._pool.acquire() as c:
                await schema.migrate(c)
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            if self._pool is not None:
                self._pool.terminate()
            raise StoreUnavailable("cannot use PostgreSQL at %s: %s" % (redact_url(self.url), e)) from None
        self._queue = asyncio.Queue()
        self._writers = [asyncio.ensure_future(self._write_loop()) for _ in range(WRITERS)]

    def attach_cluster(self, cluster):
        self.cluster = cluster

    def close(self):
        if self._pool is not None:
            self._pool.terminate()

    async def aclose(self):
        if self._writers:
            for _ in self._writers:
                self._queue.put_nowait(None)
            await asyncio.wait(self._writers, timeout=10)
        for t in list(self._background) + ([self._down] if self._down else []):
            t.cancel()
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), 5)
            except (asyncio.TimeoutError, OSError, asyncpg.InterfaceError):
                self._pool.terminate()

    @property
    def available(self):
        return self._down is None

    def _lost(self, e):
        """The server is gone: fail fast until a reconnect succeeds."""
        if self._down is None:
            log.error("PostgreSQL at %s unavailable: %s; reconnecting", redact_url(self.url), e)
            self._down = asyncio.ensure_future(self._reconnect())
        return StoreUnavailable("PostgreSQL unavailable: %s" % e)

    async def _reconnect(self):
        attempt = 0
        while True:
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1
            try:
                await self._pool.expire_connections()
                async with self._pool.acquire(timeout=5) as c:
                    await c.fetchval("SELECT 1")
            except Exception as e:  # still down: try again later
                if not _unavailable(e):
                    log.error("PostgreSQL reconnect: %s", e)
                continue
            log.info("PostgreSQL at %s is back", redact_url(self.url))
            self._down = None
            return

    async def _call(self, fn, *args):
        """Run fn(conn, *args) on a pooled connection; server trouble -> StoreUnavailable."""
        if self._down is not None:
            raise StoreUnavailable("PostgreSQL unavailable; reconnecting")
        try:
            async with self._pool.acquire(timeout=10) as c:
                return await fn(c, *args)
        except StoreUnavailable:
            raise
        except Exception as e:
            if _unavailable(e):
                raise self._lost(e) from None
            raise

    def _later(self, fn, *args):
        """Fire and forget, failures logged."""
        async def run():
            try:
                await self._call(fn, *args)
            except Exception as e:
                log.error("background write failed: %s", e)
        t = asyncio.ensure_future(run())
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    # -- telemetry: the group-commit writer ----------------------------------------------
    def store_batch(self, source_id, batch_id, pts):
        job = _Job(source_id, batch_id, pts, now_ms())
        if self._down is not None:
            job.fut.set_exception(StoreUnavailable("PostgreSQL unavailable; reconnecting"))
        else:
            self._queue.put_nowait(job)
        return job.fut

    async def _write_loop(self):
        while True:
            first = await self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < MAX_GROUP and not self._queue.empty():
                job = self._queue.get_nowait()
                if job is None:
                    self._queue.put_nowait(None)
                    break
                group.append(job)
            await self._commit_group(group)

    async def _commit_group(self, group):
        if self._down is not None:
            for j in group:
                j.fut.set_exception(StoreUnavailable("PostgreSQL unavailable; reconnecting"))
            return
        try:
            results = await self._call(self._insert_group, group)
        except StoreUnavailable as e:
            for j in group:
                if not j.fut.done():
                    j.fut.set_exception(e)
            return
        except Exception as e:
            if len(group) == 1:
                group[0].fut.set_exception(ValueError(str(e)))
                return
            # One job's data broke the group: store each on its own, so only it is refused.
            for j in group:
                await self._commit_group([j])
            return
        for j, r in zip(group, results):
            if not j.fut.done():
                j.fut.set_result(r)

    async def _insert_group(self, conn, group):
        job_rows = points.group_rows(group)
        await points.ensure_partitions(conn, job_rows, self._partitions)
        return await points.insert_group(conn, group, job_rows, self.cluster)

    # -- sources ----------------------------------------------------------------------------
    def describe_source(self, source_id, platform, agent_version, commands, cameras):
        return self._call(sources.describe, source_id, now_ms(), platform, agent_version, commands, cameras)

    def touch_source(self, source_id):
        self._later(sources.touch, source_id, now_ms())

    def add_camera(self, source_id, camera_id):
        self._later(sources.add_camera, source_id, camera_id)

    # -- keys -------------------------------------------------------------------------------
    def key(self, presented):
        return self._call(keys.find, presented)

    async def create_key(self, name=None, scopes=keymaker.DEFAULT_SCOPES, source_id=None):
        key, row = keymaker.new_key(name, scopes, source_id)
        await self._call(keys.insert, row)
        return key

    def list_keys(self):
        return self._call(keys.listing)

    def revoke_key(self, ident):
        return self._call(keys.revoke, ident)

    # -- Data API ----------------------------------------------------------------------------
    def sources(self):
        return self._call(sources.sources)

    def source(self, source_id):
        return self._call(sources.source, source_id)

    def metric_names(self, source_id):
        return self._call(sources.metric_names, source_id)

    def latest(self, source_id):
        return self._call(queries.latest, source_id, now_ms() - LATEST_WINDOW_MS)

    def raw(self, source_id, metrics, start, end):
        return self._call(queries.raw, source_id, metrics, start, end)

    def aggregated(self, source_id, metrics, start, end, bucket_ms):
        return self._call(queries.aggregated, source_id, metrics, start, end, bucket_ms)

    def events(self, source_id, start, end, name=None, limit=1000, newest=False):
        return self._call(queries.events, source_id, start, end, name, limit, newest)

    def fleet_metric(self, metric, start, end, bucket_ms, max_buckets=MAX_ROWS):
        return self._call(queries.fleet_metric, metric, start, end, bucket_ms, max_buckets)

    def metric_values(self, source_id, metric, start, end):
        return self._call(queries.metric_values, source_id, metric, start, end)

    def delete_source(self, source_id):
        return self._call(points.delete_source, source_id)

    async def drop_points_before(self, cutoff_ms):
        """Retention: drop the whole days of points before `cutoff_ms` (names of the dropped partitions)."""
        dropped = await self._call(points.drop_before, cutoff_ms)
        for name in dropped:
            self._partitions.discard(schema.day_of(name))
        return dropped

    # -- commands -------------------------------------------------------------------------------
    def put_run(self, run):
        return self._call(runs.put_run, run, self.cluster)

    def get_run(self, run_id):
        return self._call(runs.get_run, run_id)

    def open_runs(self, source_id):
        return self._call(runs.open_runs, source_id)

    def new_command(self, cid, source_id, command, params):
        return self._call(runs.new_command, cid, source_id, command, params, now_ms(), self.cluster)

    def command_event(self, cid, source_id, frame):
        return self._call(runs.command_event, cid, source_id, frame)

    def get_command(self, source_id, cid):
        return self._call(runs.get_command, source_id, cid)

    # -- test runs ----------------------------------------------------------------------------------
    def put_test_run(self, run):
        return self._call(runs.put_test_run, run)

    def get_test_run(self, run_id):
        return self._call(runs.get_test_run, run_id)

    # -- replicas (cluster.py): presence rows and heartbeats, with their announcements -----------------
    def bus(self):
        from plexus.gateway.pg.bus import PgBus
        return PgBus(self.url, self._pool)

    def replica_sync(self, replica_id, held, payloads):
        return self._call(presence.sync, replica_id, held, payloads)

    def replica_heartbeat(self, replica_id, payloads, expire_ms):
        return self._call(presence.heartbeat, replica_id, payloads, expire_ms)

    def presence_change(self, attach, source_id, replica_id, conn_id, payloads):
        return self._call(presence.change, attach, source_id, replica_id, conn_id, payloads)

    def presence_rows(self, expire_ms, replica_id=None):
        return self._call(presence.rows, expire_ms, replica_id)

    def replica_leave(self, replica_id, payloads):
        return self._call(presence.leave, replica_id, payloads)
