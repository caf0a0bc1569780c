"""Sources on PostgreSQL: when each was last seen and what it said about itself."""

import json

from plexus.gateway.store import dumps, source_row


async def describe(c, source_id, t, platform, agent_version, commands, cameras):
    await c.execute(
        "INSERT INTO sources (source_id, last_seen_ms, platform, agent_version, commands, cameras) "
        "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (source_id) DO UPDATE SET "
        "last_seen_ms = greatest(coalesce(sources.last_seen_ms, 0), excluded.last_seen_ms), "
        "platform = excluded.platform, agent_version = excluded.agent_version, "
        "commands = excluded.commands, cameras = coalesce(excluded.cameras, sources.cameras)",
        source_id, t, platform, agent_version, dumps(commands or []),
        dumps(cameras) if cameras is not None else None)


async def touch(c, source_id, t):
    await c.execute("INSERT INTO sources (source_id, last_seen_ms) VALUES ($1,$2) ON CONFLICT (source_id) "
                    "DO UPDATE SET last_seen_ms = greatest(coalesce(sources.last_seen_ms, 0), $2)",
                    source_id, t)


async def add_camera(c, source_id, camera_id):
    async with c.transaction():
        cams = await c.fetchval("SELECT cameras FROM sources WHERE source_id=$1 FOR UPDATE", source_id)
        cams = json.loads(cams) if cams else []
        if camera_id not in cams:
            cams.append(camera_id)
            await c.execute("UPDATE sources SET cameras=$1 WHERE source_id=$2", dumps(cams), source_id)


async def sources(c):
    rows = await c.fetch("SELECT source_id, last_seen_ms, commands, cameras FROM sources ORDER BY source_id")
    return [source_row(r) for r in rows]


async def source(c, source_id):
    r = await c.fetchrow("SELECT source_id, last_seen_ms, commands, cameras FROM sources WHERE source_id=$1",
                         source_id)
    return source_row(r) if r else None


async def metric_names(c, source_id):
    rows = await c.fetch("SELECT metric FROM metric_names WHERE source_id=$1 ORDER BY metric", source_id)
    return [r[0] for r in rows]
