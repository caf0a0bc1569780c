"""The PostgreSQL schema, as numbered migrations applied in order at start.

Replicas starting together take an advisory lock, so each migration runs
once. A migration is never edited after release: add the next number.

Points live in a table partitioned by timestamp (one partition per UTC day,
created on first use), so retention drops whole partitions instead of
deleting rows, and a one-day query touches one or two partitions.
"""

MIGRATION_LOCK = 7302155  # advisory lock id: "plexus schema"

MIGRATIONS = [
    (1, """
CREATE TABLE keys (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, hint TEXT NOT NULL,
    scopes TEXT NOT NULL, source_id TEXT, created_ms BIGINT NOT NULL, revoked_ms BIGINT);
CREATE SEQUENCE points_id_seq;
CREATE TABLE points (
    id BIGINT NOT NULL DEFAULT nextval('points_id_seq'), source_id TEXT NOT NULL, metric TEXT NOT NULL,
    class TEXT NOT NULL, ts BIGINT NOT NULL, num DOUBLE PRECISION, value TEXT NOT NULL, tags TEXT,
    received_ms BIGINT NOT NULL
) PARTITION BY RANGE (ts);
CREATE TABLE points_other PARTITION OF points DEFAULT;
-- num and id ride along so a query reads the index only (index-only scan), not the rows
CREATE INDEX points_by_metric ON points (source_id, class, metric, ts) INCLUDE (num, id);
CREATE INDEX points_events ON points (source_id, ts) WHERE class = 'event';
CREATE TABLE metric_names (source_id TEXT NOT NULL, metric TEXT NOT NULL, PRIMARY KEY (source_id, metric));
CREATE TABLE batches (
    source_id TEXT NOT NULL, batch_id TEXT NOT NULL, received_ms BIGINT NOT NULL,
    PRIMARY KEY (source_id, batch_id));
CREATE TABLE sources (
    source_id TEXT PRIMARY KEY, last_seen_ms BIGINT, platform TEXT, agent_version TEXT,
    commands TEXT, cameras TEXT);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, source_id TEXT NOT NULL, command TEXT NOT NULL, params TEXT NOT NULL,
    created_ms BIGINT NOT NULL, deadline_ms BIGINT NOT NULL, idempotent BOOLEAN NOT NULL,
    attempt INTEGER NOT NULL, state TEXT NOT NULL, seq BIGINT NOT NULL DEFAULT 0, progress DOUBLE PRECISION,
    result TEXT, error_code TEXT, error_message TEXT, message TEXT, statuses TEXT NOT NULL DEFAULT '[]');
CREATE INDEX runs_open ON runs (source_id, created_ms)
    WHERE state NOT IN ('succeeded', 'failed', 'expired');
CREATE TABLE test_runs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, source_id TEXT, started_ms BIGINT NOT NULL, ended_ms BIGINT,
    status TEXT NOT NULL, body TEXT NOT NULL, test_result TEXT);
CREATE TABLE commands (
    id TEXT PRIMARY KEY, source_id TEXT NOT NULL, command TEXT NOT NULL, params TEXT NOT NULL,
    created_ms BIGINT NOT NULL, events TEXT NOT NULL DEFAULT '[]');
"""),
    (2, """
-- replicas sharing this database, and which replica holds which source's socket
CREATE TABLE replicas (replica_id TEXT PRIMARY KEY, started_ms BIGINT NOT NULL, seen_ms BIGINT NOT NULL);
CREATE TABLE presence (
    source_id TEXT NOT NULL, replica_id TEXT NOT NULL, conn_id TEXT NOT NULL, since_ms BIGINT NOT NULL,
    PRIMARY KEY (source_id, conn_id));
CREATE INDEX presence_by_replica ON presence (replica_id);
"""),
    (3, """
-- Cheaper to keep up at ingest (the index is most of PostgreSQL's work per
-- point): names compared byte by byte (the queries only ever ask equality of
-- them), and the class out of the key (the index holds metrics only; events
-- have their own).
DROP INDEX points_by_metric;
ALTER TABLE points ALTER COLUMN source_id TYPE TEXT COLLATE "C", ALTER COLUMN metric TYPE TEXT COLLATE "C";
ALTER TABLE metric_names ALTER COLUMN source_id TYPE TEXT COLLATE "C", ALTER COLUMN metric TYPE TEXT COLLATE "C";
CREATE INDEX points_metrics ON points (source_id, metric, ts) INCLUDE (num, id) WHERE class = 'metric';
"""),
]

DAY_MS = 86400000
# Days outside these years go to the default partition (points_other): a
# device with a broken clock must not create thousands of partitions.
FIRST_DAY = 10957   # 2000-01-01
LAST_DAY = 47482    # 2100-01-01


async def migrate(conn):
    """Apply every migration this database has not seen; returns the schema version."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                           "applied_ms BIGINT NOT NULL)")
        done = set(r[0] for r in await conn.fetch("SELECT version FROM schema_migrations"))
        for version, sql in MIGRATIONS:
            if version not in done:
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, "
                                   "(extract(epoch from now()) * 1000)::bigint)", version)
    return MIGRATIONS[-1][0]


def partition_day(ts):
    """The day number of a timestamp's partition, or None for the default partition."""
    day = ts // DAY_MS
    return day if FIRST_DAY <= day < LAST_DAY else None


def partition_name(day):
    import datetime
    return "points_" + (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).strftime("%Y%m%d")


def day_of(name):
    """The day number of a partition named by partition_name()."""
    import datetime
    d = datetime.datetime.strptime(name[7:], "%Y%m%d").date()
    return (d - datetime.date(1970, 1, 1)).days


async def ensure_partition(conn, day):
    """Create the day's partition unless it exists (safe against other replicas)."""
    name = partition_name(day)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", MIGRATION_LOCK, day)
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
        if not exists:
            await conn.execute("CREATE TABLE %s PARTITION OF points FOR VALUES FROM (%d) TO (%d)"
                               % (name, day * DAY_MS, (day + 1) * DAY_MS))


async def drop_partitions_before(conn, cutoff_ms):
    """Drop whole day partitions that end at or before `cutoff_ms`; their names."""
    rows = await conn.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'points' "
                            "AND c.relname ~ '^points_[0-9]{8}$'")
    dropped = []
    for (name,) in rows:
        if (day_of(name) + 1) * DAY_MS <= cutoff_ms:
            await conn.execute("DROP TABLE IF EXISTS %s" % name)
            dropped.append(name)
    return dropped
