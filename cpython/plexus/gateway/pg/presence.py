"""Which replica holds which source's socket, on PostgreSQL: replica rows
kept alive by heartbeats, presence rows per held socket, each change
announced inside the transaction that makes it (cluster.py decides when)."""

from plexus.gateway.pg.bus import notify

DB_NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint"  # one clock for every replica


async def sync(c, replica_id, held, payloads):
    """This replica is alive and holds exactly `held` [(source_id, conn_id)]."""
    async with c.transaction():
        await c.execute("INSERT INTO replicas VALUES ($1, %s, %s) ON CONFLICT (replica_id) DO UPDATE "
                        "SET seen_ms = excluded.seen_ms" % (DB_NOW, DB_NOW), replica_id)
        await c.execute("DELETE FROM presence WHERE replica_id=$1", replica_id)
        if held:
            await c.execute("INSERT INTO presence SELECT s, $1, cid, %s FROM unnest($2::text[], "
                            "$3::text[]) AS t(s, cid) ON CONFLICT DO NOTHING" % DB_NOW, replica_id,
                            [h[0] for h in held], [h[1] for h in held])
        await notify(c, payloads)


async def heartbeat(c, replica_id, payloads, expire_ms):
    """Refresh this replica's row and forget replicas silent for `expire_ms`;
    False when this replica's row was gone (it was taken for dead)."""
    async with c.transaction():
        status = await c.execute("UPDATE replicas SET seen_ms=%s WHERE replica_id=$1" % DB_NOW, replica_id)
        await c.execute("DELETE FROM presence WHERE replica_id IN (SELECT replica_id FROM replicas "
                        "WHERE seen_ms < %s - $1)" % DB_NOW, expire_ms)
        await c.execute("DELETE FROM replicas WHERE seen_ms < %s - $1" % DB_NOW, expire_ms)
        await notify(c, payloads)
        return status.split()[-1] != "0"


async def change(c, attach, source_id, replica_id, conn_id, payloads):
    async with c.transaction():
        if attach:
            await c.execute("INSERT INTO presence VALUES ($1,$2,$3,%s) ON CONFLICT DO NOTHING" % DB_NOW,
                            source_id, replica_id, conn_id)
        else:
            await c.execute("DELETE FROM presence WHERE source_id=$1 AND conn_id=$2", source_id, conn_id)
        await notify(c, payloads)


async def rows(c, expire_ms, replica_id=None):
    """[(source_id, replica_id, conn_id)] held by replicas heard from within `expire_ms`."""
    sql = ("SELECT p.source_id, p.replica_id, p.conn_id FROM presence p JOIN replicas r USING (replica_id) "
           "WHERE r.seen_ms >= %s - $1" % DB_NOW)
    args = [expire_ms]
    if replica_id is not None:
        sql += " AND p.replica_id = $2"
        args.append(replica_id)
    return [tuple(r) for r in await c.fetch(sql + " ORDER BY p.since_ms", *args)]


async def leave(c, replica_id, payloads):
    async with c.transaction():
        await c.execute("DELETE FROM presence WHERE replica_id=$1", replica_id)
        await c.execute("DELETE FROM replicas WHERE replica_id=$1", replica_id)
        await notify(c, payloads)
