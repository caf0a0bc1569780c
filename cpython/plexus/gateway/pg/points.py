"""Points on PostgreSQL: one group commit's batches stored in one
transaction, each batch once per batch id; deleting (one source, or whole
days for retention)."""

import operator

from plexus.gateway.pg import schema
from plexus.gateway.pg.bus import notify
from plexus.gateway.store import POINT_COLUMNS, point_rows


async def ensure_partitions(c, job_rows, known):
    """Create the day partitions the rows need (`known`: days known to exist)."""
    days = set()
    for rows in job_rows:
        if not rows:
            continue
        lo, hi = min(map(_TS, rows)) // schema.DAY_MS, max(map(_TS, rows)) // schema.DAY_MS
        # the usual frame spans a day or two: no pass in Python over its points
        days.update(range(lo, hi + 1) if hi - lo < 3 else set(ts // schema.DAY_MS for ts in map(_TS, rows)))
    for d in sorted(days - known):
        if schema.FIRST_DAY <= d < schema.LAST_DAY:
            await schema.ensure_partition(c, d)
            known.add(d)


_TS = operator.itemgetter(POINT_COLUMNS.index("ts"))
_NAME = operator.itemgetter(0, 1, 2)  # source_id, metric, class

# One statement before the COPY: the group's batch ids (those stored before
# come back missing), its metric names and when its sources were seen. Every
# key set goes in sorted, one lock order for every replica: no deadlocks.
_GROUP_ROWS = (
    "WITH fresh AS (INSERT INTO batches SELECT s, b, $3 FROM unnest($1::text[], $2::text[]) AS t(s, b) "
    "ON CONFLICT DO NOTHING RETURNING source_id, batch_id), "
    "names AS (INSERT INTO metric_names SELECT * FROM unnest($4::text[], $5::text[]) ON CONFLICT DO NOTHING), "
    "seen AS (INSERT INTO sources (source_id, last_seen_ms) SELECT * FROM unnest($6::text[], $7::bigint[]) "
    "ON CONFLICT (source_id) DO UPDATE SET last_seen_ms = "
    "greatest(coalesce(sources.last_seen_ms, 0), excluded.last_seen_ms)) "
    "SELECT source_id, batch_id FROM fresh")


def group_rows(group):
    """Each job's point rows, built before the transaction opens."""
    return [point_rows(j.source_id, j.points, j.received_ms, []) for j in group]


async def insert_group(c, group, job_rows, cluster):
    """Store the jobs' batches (.source_id, .batch_id, .points, .received_ms)
    in one transaction: the batch ids first, with ON CONFLICT DO NOTHING, so a
    batch resent to another replica after a cut is stored once; then the
    points by COPY; then what other replicas must hear. One result per job:
    the stored count, or None for a resend."""
    ids = sorted((j.source_id, j.batch_id) for j in group if j.batch_id is not None)
    names = set()
    for rows in job_rows:
        names.update(map(_NAME, rows))
    names = sorted(n[:2] for n in names if n[2] == "metric")
    last_seen = {}
    for j in group:
        last_seen[j.source_id] = max(last_seen.get(j.source_id, 0), j.received_ms)
    sids = sorted(last_seen)
    results, rows, stored, seen = [], [], [], set()
    async with c.transaction():
        got = await c.fetch(_GROUP_ROWS, [i[0] for i in ids], [i[1] for i in ids], group[0].received_ms,
                            [n[0] for n in names], [n[1] for n in names], sids, [last_seen[s] for s in sids])
        fresh = set((r[0], r[1]) for r in got)
        for j, jr in zip(group, job_rows):
            if j.batch_id is not None:
                k = (j.source_id, j.batch_id)
                if k not in fresh or k in seen:
                    results.append(None)  # a resend of a stored batch: acknowledged, not stored twice
                    continue
                seen.add(k)
            rows.extend(jr)
            results.append(len(jr))
            stored.append(j)
        if rows:
            await c.copy_records_to_table("points", records=rows, columns=POINT_COLUMNS)
        if cluster is not None:
            payloads = []
            for j in stored:
                payloads.extend(cluster.points_payloads(j.source_id, j.points))
            await notify(c, payloads)
    return results


async def delete_source(c, source_id):
    """Forget a source: its points, metric names, batch ids, runs and commands; points deleted."""
    async with c.transaction():
        n = int((await c.execute("DELETE FROM points WHERE source_id=$1", source_id)).split()[-1])
        for table in ("metric_names", "batches", "runs", "commands", "sources"):
            await c.execute("DELETE FROM %s WHERE source_id=$1" % table, source_id)
        return n


async def drop_before(c, cutoff_ms):
    """Retention: drop every whole day of points ending at or before `cutoff_ms`
    (names of the dropped partitions); the default partition is pruned by rows."""
    dropped = await schema.drop_partitions_before(c, cutoff_ms)
    await c.execute("DELETE FROM points_other WHERE ts < $1", cutoff_ms)
    return dropped
