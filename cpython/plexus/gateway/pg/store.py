"""The gateway's store on PostgreSQL, through an asyncpg connection pool.

Telemetry goes through one writer task that groups every batch waiting at
that moment into one transaction (group commit): the batch ids first, with
`ON CONFLICT DO NOTHING`, so a batch resent to another replica after a cut is
stored once; then the points by COPY; then what other replicas must hear
(NOTIFY inside the same transaction, so nothing is announced before it is
stored). Futures resolve after COMMIT returns: nothing is acknowledged
earlier.

When the server goes away every call fails fast with StoreUnavailable while
one task reconnects with backoff; the gateway answers 503 / closes device
sockets with 1013 meanwhile, and devices keep their data buffered.
"""

import asyncio
import json
import logging

import asyncpg

from plexus.gateway import keys
from plexus.gateway.pg import schema
from plexus.gateway.storage import Store, StoreUnavailable, redact_url
from plexus.gateway.store import LATEST_WINDOW_MS, MAX_ROWS, RUN_FIELDS, fleet_series, now_ms, stored_ts

log = logging.getLogger("plexus.gateway")

POINT_COLUMNS = ("source_id", "metric", "class", "ts", "num", "value", "tags", "received_ms")
MAX_GROUP = 256
WRITERS = 2      # group commits in flight at once: one fills while the other waits for its fsync
BACKOFF_S = (0.2, 0.5, 1, 2, 5)


def _dumps(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _unavailable(e):
    """False only when the server refused the data itself (SQLSTATE class 22
    data exception, 23 integrity, 54 too large). Anything else may have been
    a cut during COMMIT: the caller retries (batch ids make that safe) rather
    than have a device split and resend what may already be stored."""
    state = getattr(e, "sqlstate", None) or ""
    return not (isinstance(e, asyncpg.PostgresError) and state[:2] in ("22", "23", "54"))


class _Job:
    __slots__ = ("source_id", "batch_id", "points", "received_ms", "fut")

    def __init__(self, source_id, batch_id, points, received_ms):
        self.source_id = source_id
        self.batch_id = batch_id
        self.points = points
        self.received_ms = received_ms
        self.fut = asyncio.get_running_loop().create_future()


def _row(source_id, p, received_ms):
    v = p["value"]
    if p["class"] == "metric":
        num, text = float(v), repr(v)
    else:
        num, text = None, _dumps(v)
    tags = p.get("tags")
    ts = stored_ts(p, received_ms)
    return (source_id, p["metric"], p["class"], ts, num, text, _dumps(tags) if tags else None, received_ms)


def _source_row(r):
    return {"source_id": r[0], "last_seen_ms": r[1], "commands": json.loads(r[2]) if r[2] else [],
            "cameras": json.loads(r[3]) if r[3] else []}


def _run_row(r):
    run = dict(zip(RUN_FIELDS, r))
    for f in ("params", "result", "statuses"):
        if run[f] is not None:
            run[f] = json.loads(run[f])
    return run


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
                                                   command_timeout=60, timeout=10)
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
    def store_batch(self, source_id, batch_id, points):
        job = _Job(source_id, batch_id, points, now_ms())
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
        rows, results, seen = [], [], set()
        days = set()
        for j in group:
            for p in j.points:
                d = schema.partition_day(stored_ts(p, j.received_ms))
                if d is not None and d not in self._partitions:
                    days.add(d)
        for d in sorted(days):
            await schema.ensure_partition(conn, d)
            self._partitions.add(d)
        async with conn.transaction():
            fresh = set()
            ids = sorted((j.source_id, j.batch_id) for j in group if j.batch_id is not None)  # one lock order
            if ids:
                got = await conn.fetch(
                    "INSERT INTO batches SELECT s, b, $3 FROM unnest($1::text[], $2::text[]) AS t(s, b) "
                    "ON CONFLICT DO NOTHING RETURNING source_id, batch_id",
                    [i[0] for i in ids], [i[1] for i in ids], group[0].received_ms)
                fresh = set((r[0], r[1]) for r in got)
            stored = []
            for j in group:
                if j.batch_id is not None:
                    k = (j.source_id, j.batch_id)
                    if k not in fresh or k in seen:
                        results.append(None)  # a resend of a stored batch: acknowledged, not stored twice
                        continue
                    seen.add(k)
                rows.extend(_row(j.source_id, p, j.received_ms) for p in j.points)
                results.append(len(j.points))
                stored.append(j)
            if rows:
                await conn.copy_records_to_table("points", records=rows, columns=POINT_COLUMNS)
                names = sorted(set((r[0], r[1]) for r in rows if r[2] == "metric"))
                if names:
                    await conn.execute("INSERT INTO metric_names SELECT * FROM unnest($1::text[], $2::text[]) "
                                       "ON CONFLICT DO NOTHING", [n[0] for n in names], [n[1] for n in names])
            seen_sources = {}
            for j in group:
                seen_sources[j.source_id] = max(seen_sources.get(j.source_id, 0), j.received_ms)
            sids = sorted(seen_sources)  # one lock order for every replica: no deadlocks
            await conn.execute(
                "INSERT INTO sources (source_id, last_seen_ms) SELECT * FROM unnest($1::text[], $2::bigint[]) "
                "ON CONFLICT (source_id) DO UPDATE SET last_seen_ms = "
                "greatest(coalesce(sources.last_seen_ms, 0), excluded.last_seen_ms)",
                sids, [seen_sources[s] for s in sids])
            if self.cluster is not None:
                payloads = []
                for j in stored:
                    payloads.extend(self.cluster.points_payloads(j.source_id, j.points))
                await _notify(conn, payloads)
        return results

    # -- sources --------------------------------------------------------------------------
    def describe_source(self, source_id, platform, agent_version, commands, cameras):
        return self._call(self._describe, source_id, now_ms(), platform, agent_version, commands, cameras)

    @staticmethod
    async def _describe(c, source_id, t, platform, agent_version, commands, cameras):
        await c.execute(
            "INSERT INTO sources (source_id, last_seen_ms, platform, agent_version, commands, cameras) "
            "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (source_id) DO UPDATE SET "
            "last_seen_ms = greatest(coalesce(sources.last_seen_ms, 0), excluded.last_seen_ms), "
            "platform = excluded.platform, agent_version = excluded.agent_version, "
            "commands = excluded.commands, cameras = coalesce(excluded.cameras, sources.cameras)",
            source_id, t, platform, agent_version, _dumps(commands or []),
            _dumps(cameras) if cameras is not None else None)

    def touch_source(self, source_id):
        self._later(self._touch, source_id, now_ms())

    @staticmethod
    async def _touch(c, source_id, t):
        await c.execute("INSERT INTO sources (source_id, last_seen_ms) VALUES ($1,$2) ON CONFLICT (source_id) "
                        "DO UPDATE SET last_seen_ms = greatest(coalesce(sources.last_seen_ms, 0), $2)",
                        source_id, t)

    def add_camera(self, source_id, camera_id):
        self._later(self._add_camera, source_id, camera_id)

    @staticmethod
    async def _add_camera(c, source_id, camera_id):
        async with c.transaction():
            cams = await c.fetchval("SELECT cameras FROM sources WHERE source_id=$1 FOR UPDATE", source_id)
            cams = json.loads(cams) if cams else []
            if camera_id not in cams:
                cams.append(camera_id)
                await c.execute("UPDATE sources SET cameras=$1 WHERE source_id=$2", _dumps(cams), source_id)

    # -- keys -------------------------------------------------------------------------------
    def key(self, presented):
        return self._call(self._find_key, presented)

    @staticmethod
    async def _find_key(c, presented):
        if not keys.plausible(presented):
            return None
        r = await c.fetchrow("SELECT id, name, scopes, source_id FROM keys WHERE hash=$1 AND revoked_ms IS NULL",
                             keys.hash_key(presented))
        return keys.Key(r[0], r[1], r[2].split(","), r[3]) if r else None

    async def create_key(self, name=None, scopes=keys.DEFAULT_SCOPES, source_id=None):
        key, row = keys.new_key(name, scopes, source_id)
        await self._call(lambda c: c.execute(
            "INSERT INTO keys (name, hash, hint, scopes, source_id, created_ms) VALUES ($1,$2,$3,$4,$5,$6)", *row))
        return key

    async def list_keys(self):
        rows = await self._call(lambda c: c.fetch(
            "SELECT id, name, hint, scopes, source_id, created_ms, revoked_ms FROM keys ORDER BY id"))
        return [dict(r) for r in rows]

    async def revoke_key(self, ident):
        t = now_ms()
        if str(ident).isdigit():
            sql, arg = "UPDATE keys SET revoked_ms=$1 WHERE id=$2 AND revoked_ms IS NULL", int(ident)
        else:
            sql, arg = "UPDATE keys SET revoked_ms=$1 WHERE name=$2 AND revoked_ms IS NULL", ident
        status = await self._call(lambda c: c.execute(sql, t, arg))
        return int(status.split()[-1])

    # -- Data API ----------------------------------------------------------------------------
    async def sources(self):
        rows = await self._call(lambda c: c.fetch(
            "SELECT source_id, last_seen_ms, commands, cameras FROM sources ORDER BY source_id"))
        return [_source_row(r) for r in rows]

    async def source(self, source_id):
        r = await self._call(lambda c: c.fetchrow(
            "SELECT source_id, last_seen_ms, commands, cameras FROM sources WHERE source_id=$1", source_id))
        return _source_row(r) if r else None

    async def metric_names(self, source_id):
        rows = await self._call(lambda c: c.fetch(
            "SELECT metric FROM metric_names WHERE source_id=$1 ORDER BY metric", source_id))
        return [r[0] for r in rows]

    async def latest(self, source_id):
        # One index probe per metric name, newest first.
        rows = await self._call(lambda c: c.fetch(
            "SELECT n.metric, p.value FROM metric_names n CROSS JOIN LATERAL (SELECT value FROM points "
            "WHERE source_id=n.source_id AND class='metric' AND metric=n.metric AND ts>=$2 "
            "ORDER BY ts DESC, id DESC LIMIT 1) p WHERE n.source_id=$1", source_id,
            now_ms() - LATEST_WINDOW_MS))
        return {r[0]: json.loads(r[1]) for r in rows}

    async def _names(self, c, source_id, metrics):
        if metrics:
            return list(metrics)
        return [r[0] for r in await c.fetch("SELECT metric FROM metric_names WHERE source_id=$1", source_id)]

    async def raw(self, source_id, metrics, start, end):
        async def q(c):
            names = await self._names(c, source_id, metrics)
            return await c.fetch(
                "SELECT metric, ts, num FROM points WHERE source_id=$1 AND class='metric' AND metric = ANY($2) "
                "AND ts>=$3 AND ts<=$4 ORDER BY ts, id LIMIT $5", source_id, names, start, end, MAX_ROWS)
        rows = await self._call(q)
        series = {}
        for m, ts, num in rows:
            s = series.setdefault(m, {"timestamp_ms": [], "value": []})
            s["timestamp_ms"].append(ts)
            s["value"].append(num)
        return series, len(rows) >= MAX_ROWS

    async def aggregated(self, source_id, metrics, start, end, bucket_ms):
        base = " FROM points WHERE source_id=$1 AND class='metric' AND metric = ANY($2) AND ts>=$3 AND ts<=$4"

        async def q(c):
            names = await self._names(c, source_id, metrics)
            total = await c.fetchval("SELECT count(*) FROM (SELECT 1" + base + " LIMIT $5) t",
                                     source_id, names, start, end, MAX_ROWS)
            rows = await c.fetch("SELECT metric, (ts / $5) * $5 AS b, min(num), max(num), avg(num), count(*)" +
                                 base + " GROUP BY metric, b ORDER BY b", source_id, names, start, end, bucket_ms)
            return total, rows
        total, rows = await self._call(q)
        series = {}
        for m, b, lo, hi, avg, n in rows:
            s = series.setdefault(m, {"timestamp_ms": [], "min": [], "max": [], "avg": [], "count": []})
            s["timestamp_ms"].append(b)
            s["min"].append(lo)
            s["max"].append(hi)
            s["avg"].append(avg)
            s["count"].append(n)
        return series, total >= MAX_ROWS

    async def events(self, source_id, start, end, name=None, limit=1000, newest=False):
        sql = ("SELECT ts, metric, value, tags FROM points WHERE source_id=$1 AND class='event' AND ts>=$2 "
               "AND ts<=$3")
        args = [source_id, start, end]
        if name:
            sql += " AND metric=$4"
            args.append(name)
        sql += (" ORDER BY ts DESC, id DESC" if newest else " ORDER BY ts, id") + " LIMIT $%d" % (len(args) + 1)
        rows = await self._call(lambda c: c.fetch(sql, *args, limit))
        rows = list(rows)
        if newest:
            rows.reverse()
        return [{"timestamp_ms": r[0], "metric": r[1], "value": json.loads(r[2]),
                 "tags": json.loads(r[3]) if r[3] else {}} for r in rows]

    async def fleet_metric(self, metric, start, end, bucket_ms, max_buckets=10000):
        """([per-source bucket series], truncated), as SqliteStore.fleet_metric."""
        rows = await self._call(lambda c: c.fetch(
            "SELECT p.source_id, (p.ts / $4) * $4 AS b, avg(num), min(num), max(num), count(*) FROM metric_names n "
            "JOIN points p ON p.source_id=n.source_id AND p.class='metric' AND p.metric=n.metric "
            "WHERE n.metric=$1 AND p.ts>=$2 AND p.ts<=$3 GROUP BY p.source_id, b ORDER BY p.source_id, b LIMIT $5",
            metric, start, end, bucket_ms, max_buckets))
        return fleet_series([tuple(r) for r in rows], max_buckets)

    # -- commands -------------------------------------------------------------------------------
    async def put_run(self, run):
        vals = [(_dumps(run[f]) if f in ("params", "result", "statuses") and run[f] is not None else run[f])
                for f in RUN_FIELDS]
        vals[RUN_FIELDS.index("idempotent")] = bool(run["idempotent"])
        cols = ",".join(RUN_FIELDS)
        sql = ("INSERT INTO runs (%s) VALUES (%s) ON CONFLICT (run_id) DO UPDATE SET %s" % (
            cols, ",".join("$%d" % (i + 1) for i in range(len(vals))),
            ",".join("%s=excluded.%s" % (f, f) for f in RUN_FIELDS[1:])))

        async def q(c):
            async with c.transaction():
                await c.execute(sql, *vals)
                if self.cluster is not None:  # told only if another replica holds the device now
                    await _notify(c, self.cluster.run_payloads(run), run["source_id"], self.cluster.id)
        await self._call(q)

    async def get_run(self, run_id):
        r = await self._call(lambda c: c.fetchrow("SELECT %s FROM runs WHERE run_id=$1" % ",".join(RUN_FIELDS),
                                                  run_id))
        return _run_row(r) if r else None

    async def open_runs(self, source_id):
        rows = await self._call(lambda c: c.fetch(
            "SELECT %s FROM runs WHERE source_id=$1 AND state NOT IN ('succeeded','failed','expired') "
            "ORDER BY created_ms" % ",".join(RUN_FIELDS), source_id))
        return [_run_row(r) for r in rows]

    async def new_command(self, cid, source_id, command, params):
        async def q(c):
            async with c.transaction():
                await c.execute("INSERT INTO commands (id, source_id, command, params, created_ms) "
                                "VALUES ($1,$2,$3,$4,$5)", cid, source_id, command, _dumps(params), now_ms())
                if self.cluster is not None:
                    await _notify(c, self.cluster.command_payloads(cid, source_id))
        await self._call(q)

    async def command_event(self, cid, source_id, frame):
        status = await self._call(lambda c: c.execute(
            "UPDATE commands SET events = (events::jsonb || jsonb_build_array($3::jsonb))::text "
            "WHERE id=$1 AND source_id=$2", cid, source_id, _dumps(frame)))
        return status.split()[-1] != "0"

    async def get_command(self, source_id, cid):
        r = await self._call(lambda c: c.fetchrow(
            "SELECT id, command, params, created_ms, events FROM commands WHERE id=$1 AND source_id=$2",
            cid, source_id))
        if r is None:
            return None
        return {"id": r[0], "command": r[1], "params": json.loads(r[2]), "created_ms": r[3],
                "events": json.loads(r[4])}

    # -- test runs ----------------------------------------------------------------------------------
    async def put_test_run(self, run):
        await self._call(lambda c: c.execute(
            "INSERT INTO test_runs VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO UPDATE SET "
            "name=excluded.name, source_id=excluded.source_id, started_ms=excluded.started_ms, "
            "ended_ms=excluded.ended_ms, status=excluded.status, body=excluded.body, "
            "test_result=excluded.test_result",
            run["id"], run["name"], run["source_id"], run["started_ms"], run.get("ended_ms"), run["status"],
            json.dumps(run), json.dumps(run.get("test_result"))))

    async def get_test_run(self, run_id):
        body = await self._call(lambda c: c.fetchval("SELECT body FROM test_runs WHERE id=$1", run_id))
        return json.loads(body) if body else None

    async def metric_values(self, source_id, metric, start, end):
        if source_id:
            rows = await self._call(lambda c: c.fetch(
                "SELECT num FROM points WHERE class='metric' AND metric=$1 AND ts>=$2 AND ts<=$3 "
                "AND source_id=$4", metric, start, end, source_id))
        else:
            rows = await self._call(lambda c: c.fetch(
                "SELECT p.num FROM metric_names n JOIN points p ON p.source_id=n.source_id "
                "AND p.class='metric' AND p.metric=n.metric WHERE n.metric=$1 AND p.ts>=$2 AND p.ts<=$3",
                metric, start, end))
        return [r[0] for r in rows]

    # -- retention -------------------------------------------------------------------------------------
    async def drop_points_before(self, cutoff_ms):
        """Retention: drop every whole day of points ending at or before `cutoff_ms`
        (names of the dropped partitions); the default partition is pruned by rows."""
        async def q(c):
            dropped = await schema.drop_partitions_before(c, cutoff_ms)
            await c.execute("DELETE FROM points_other WHERE ts < $1", cutoff_ms)
            return dropped
        dropped = await self._call(q)
        for name in dropped:
            self._partitions.discard(schema.day_of(name))
        return dropped


    async def delete_source(self, source_id):
        """Forget a source: its points, metric names, batch ids, runs and commands; points deleted."""
        async def q(c):
            async with c.transaction():
                n = int((await c.execute("DELETE FROM points WHERE source_id=$1", source_id)).split()[-1])
                for table in ("metric_names", "batches", "runs", "commands", "sources"):
                    await c.execute("DELETE FROM %s WHERE source_id=$1" % table, source_id)
                return n
        return await self._call(q)

    # -- replicas (cluster.py): presence rows and heartbeats, with their announcements -----------------
    def bus(self):
        from plexus.gateway.pg.bus import PgBus
        return PgBus(self.url, self._pool)

    async def replica_sync(self, replica_id, held, payloads):
        """This replica is alive and holds exactly `held` [(source_id, conn_id)]."""
        async def q(c):
            async with c.transaction():
                await c.execute("INSERT INTO replicas VALUES ($1, %s, %s) ON CONFLICT (replica_id) DO UPDATE "
                                "SET seen_ms = excluded.seen_ms" % (_DB_NOW, _DB_NOW), replica_id)
                await c.execute("DELETE FROM presence WHERE replica_id=$1", replica_id)
                if held:
                    await c.execute("INSERT INTO presence SELECT s, $1, cid, %s FROM unnest($2::text[], "
                                    "$3::text[]) AS t(s, cid) ON CONFLICT DO NOTHING" % _DB_NOW, replica_id,
                                    [h[0] for h in held], [h[1] for h in held])
                await _notify(c, payloads)
        await self._call(q)

    async def replica_heartbeat(self, replica_id, payloads, expire_ms):
        """Refresh this replica's row and forget replicas silent for `expire_ms`;
        False when this replica's row was gone (it was taken for dead)."""
        async def q(c):
            async with c.transaction():
                status = await c.execute("UPDATE replicas SET seen_ms=%s WHERE replica_id=$1" % _DB_NOW,
                                         replica_id)
                await c.execute("DELETE FROM presence WHERE replica_id IN (SELECT replica_id FROM replicas "
                                "WHERE seen_ms < %s - $1)" % _DB_NOW, expire_ms)
                await c.execute("DELETE FROM replicas WHERE seen_ms < %s - $1" % _DB_NOW, expire_ms)
                await _notify(c, payloads)
                return status.split()[-1] != "0"
        return await self._call(q)

    async def presence_change(self, attach, source_id, replica_id, conn_id, payloads):
        async def q(c):
            async with c.transaction():
                if attach:
                    await c.execute("INSERT INTO presence VALUES ($1,$2,$3,%s) ON CONFLICT DO NOTHING" % _DB_NOW,
                                    source_id, replica_id, conn_id)
                else:
                    await c.execute("DELETE FROM presence WHERE source_id=$1 AND conn_id=$2", source_id, conn_id)
                await _notify(c, payloads)
        await self._call(q)

    async def presence_rows(self, expire_ms, replica_id=None):
        """[(source_id, replica_id, conn_id)] held by replicas heard from within `expire_ms`."""
        sql = ("SELECT p.source_id, p.replica_id, p.conn_id FROM presence p JOIN replicas r USING (replica_id) "
               "WHERE r.seen_ms >= %s - $1" % _DB_NOW)
        args = [expire_ms]
        if replica_id is not None:
            sql += " AND p.replica_id = $2"
            args.append(replica_id)
        return [tuple(r) for r in await self._call(lambda c: c.fetch(sql + " ORDER BY p.since_ms", *args))]

    async def replica_leave(self, replica_id, payloads):
        async def q(c):
            async with c.transaction():
                await c.execute("DELETE FROM presence WHERE replica_id=$1", replica_id)
                await c.execute("DELETE FROM replicas WHERE replica_id=$1", replica_id)
                await _notify(c, payloads)
        await self._call(q)


_DB_NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint"  # one clock for every replica


async def _notify(conn, payloads, held_by_other=None, me=None):
    """NOTIFY inside the caller's transaction: delivered only if it commits.
    With `held_by_other` (a source id), only when another replica's presence
    row for that source is committed (read now, not from a replica's memory)."""
    if not payloads:
        return
    from plexus.gateway.pg.bus import CHANNEL
    if held_by_other is None:
        await conn.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS t(p)", CHANNEL, payloads)
    else:
        await conn.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS t(p) WHERE EXISTS (SELECT 1 FROM "
                           "presence WHERE source_id=$3 AND replica_id<>$4)", CHANNEL, payloads, held_by_other, me)
