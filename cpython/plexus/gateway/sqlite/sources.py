"""Sources on SQLite: when each was last seen and what it said about itself."""

import json

from plexus.gateway.store import dumps, source_row


# When a source was last seen only moves forward (points/insert_batches
# writes many sources' rows with this head and tail).
SEEN = "INSERT INTO sources (source_id, last_seen_ms) VALUES "
SEEN_LATER = " ON CONFLICT(source_id) DO UPDATE SET last_seen_ms=max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)"


def seen(conn, source_id, t):
    conn.execute(SEEN + "(?,?)" + SEEN_LATER, (source_id, t))


def describe_source(conn, source_id, t, platform, agent_version, commands, cameras):
    seen(conn, source_id, t)
    conn.execute("UPDATE sources SET platform=?, agent_version=?, commands=?, "
                 "cameras=coalesce(?, cameras) WHERE source_id=?",
                 (platform, agent_version, dumps(commands or []),
                  dumps(cameras) if cameras is not None else None, source_id))


def add_camera(conn, source_id, camera_id):
    row = conn.execute("SELECT cameras FROM sources WHERE source_id=?", (source_id,)).fetchone()
    cams = json.loads(row[0]) if row and row[0] else []
    if camera_id not in cams:
        cams.append(camera_id)
        conn.execute("UPDATE sources SET cameras=? WHERE source_id=?", (dumps(cams), source_id))


def sources(conn):
    rows = conn.execute("SELECT source_id, last_seen_ms, commands, cameras FROM sources ORDER BY source_id")
    return [source_row(r) for r in rows]


def source(conn, source_id):
    r = conn.execute("SELECT source_id, last_seen_ms, commands, cameras FROM sources WHERE source_id=?",
                     (source_id,)).fetchone()
    return source_row(r) if r else None


def metric_names(conn, source_id):
    rows = conn.execute("SELECT metric FROM metric_names WHERE source_id=? ORDER BY metric", (source_id,))
    return [r[0] for r in rows]
