"""Points on PostgreSQL: one group commit's batches stored in one
transaction, each batch once per batch id; deleting (one source, or whole
days for retention)."""

from plexus.gateway.pg import schema
from plexus.gateway.pg.bus import notify
from plexus.gateway.pg.sources import seen_many
from plexus.gateway.store import POINT_COLUMNS, point_rows, stored_ts


async def ensure_partitions(c, group, known):
    """Create the day partitions the group's points need (`known`: days known to exist)."""
    days = set()
    for j in group:
        for p in j.points:
            d = schema.partition_day(stored_ts(p, j.received_ms))
            if d is not None and d not in known:
                days.add(d)
    for d in sorted(days):
        await schema.ensure_partition(c, d)
        known.add(d)


async def insert_group(c, group, cluster):
    """Store the jobs' batches (.source_id, .batch_id, .points, .received_ms)
    in one transaction: the batch ids first, with ON CONFLICT DO NOTHING, so a
    batch resent to another replica after a cut is stored once; then the
    points by COPY; then what other replicas must hear. One result per job:
    the stored count, or None for a resend."""
    results, rows, stored, seen = [], [], [], set()
    async with c.transaction():
        fresh = set()
        ids = sorted((j.source_id, j.batch_id) for j in group if j.batch_id is not None)  # one lock order
        if ids:
            got = await c.fetch(
                "INSERT INTO batches SELECT s, b, $3 FROM unnest($1::text[], $2::text[]) AS t(s, b) "
                "ON CONFLICT DO NOTHING RETURNING source_id, batch_id",
                [i[0] for i in ids], [i[1] for i in ids], group[0].received_ms)
            fresh = set((r[0], r[1]) for r in got)
        for j in group:
            if j.batch_id is not None:
                k = (j.source_id, j.batch_id)
                if k not in fresh or k in seen:
                    results.append(None)  # a resend of a stored batch: acknowledged, not stored twice
                    continue
                seen.add(k)
            point_rows(j.source_id, j.points, j.received_ms, rows)
            results.append(len(j.points))
            stored.append(j)
        if rows:
            await c.copy_records_to_table("points", records=rows, columns=POINT_COLUMNS)
            names = sorted(set((r[0], r[1]) for r in rows if r[2] == "metric"))
            if names:
                await c.execute("INSERT INTO metric_names SELECT * FROM unnest($1::text[], $2::text[]) "
                                "ON CONFLICT DO NOTHING", [n[0] for n in names], [n[1] for n in names])
        last_seen = {}
        for j in group:
            last_seen[j.source_id] = max(last_seen.get(j.source_id, 0), j.received_ms)
        await seen_many(c, last_seen)
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
