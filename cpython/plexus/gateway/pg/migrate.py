"""`plexus gateway migrate --from gateway.db --to postgresql://...`: move a
local gateway's data, keys, command runs and test runs into PostgreSQL.

Run it with the local gateway stopped. Points are copied in id order, in
chunks; each chunk is committed together with the last id it copied, so an
interrupted migration resumes where it stopped and copies nothing twice.
Keys (hashes), sources, batch ids, runs and commands are upserted, so
running it again is harmless.
"""

import json
import os
import sqlite3

import asyncpg

from plexus.gateway.pg import schema

CHUNK = 20000
COLUMNS = ("source_id", "metric", "class", "ts", "num", "value", "tags", "received_ms")

TABLES = [  # (table, columns, conflict target): copied whole, upserted
    ("keys", ("name", "hash", "hint", "scopes", "source_id", "created_ms", "revoked_ms"), "hash"),
    ("sources", ("source_id", "last_seen_ms", "platform", "agent_version", "commands", "cameras"), "source_id"),
    ("metric_names", ("source_id", "metric"), "source_id, metric"),
    ("batches", ("source_id", "batch_id", "received_ms"), "source_id, batch_id"),
    ("runs", ("run_id", "source_id", "command", "params", "created_ms", "deadline_ms", "idempotent", "attempt",
              "state", "seq", "progress", "result", "error_code", "error_message", "message", "statuses"),
     "run_id"),
    ("test_runs", ("id", "name", "source_id", "started_ms", "ended_ms", "status", "body", "test_result"), "id"),
    ("commands", ("id", "source_id", "command", "params", "created_ms", "events"), "id"),
]


async def migrate(db_path, url, progress=None):
    """Copy everything; returns {"points": copied now, "total": points in the file}.
    `progress(done, total)` is called after each chunk."""
    if not os.path.isfile(db_path):
        raise FileNotFoundError("no gateway database at %s" % db_path)
    src = sqlite3.connect("file:%s?mode=ro" % os.path.abspath(db_path), uri=True)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await schema.migrate(conn)
        await conn.execute("CREATE TABLE IF NOT EXISTS migrated_from (path TEXT PRIMARY KEY, "
                           "last_point_id BIGINT NOT NULL)")
        origin = os.path.abspath(db_path)
        for table, cols, target in TABLES:
            await _copy_table(src, conn, table, cols, target)
        last = await conn.fetchval("SELECT last_point_id FROM migrated_from WHERE path=$1", origin) or 0
        total = src.execute("SELECT count(*) FROM points").fetchone()[0]
        done = src.execute("SELECT count(*) FROM points WHERE id<=?", (last,)).fetchone()[0]
        copied = 0
        days = set()
        if progress:
            progress(done, total)
        while True:
            rows = src.execute("SELECT id, %s FROM points WHERE id>? ORDER BY id LIMIT ?" % ",".join(COLUMNS),
                               (last, CHUNK)).fetchall()
            if not rows:
                break
            for r in rows:
                d = schema.partition_day(r[4])
                if d is not None and d not in days:
                    await schema.ensure_partition(conn, d)
                    days.add(d)
            async with conn.transaction():
                await conn.copy_records_to_table("points", records=[r[1:] for r in rows], columns=COLUMNS)
                last = rows[-1][0]
                await conn.execute("INSERT INTO migrated_from VALUES ($1,$2) ON CONFLICT (path) DO UPDATE "
                                   "SET last_point_id=excluded.last_point_id", origin, last)
            copied += len(rows)
            done += len(rows)
            if progress:
                progress(done, total)
        return {"points": copied, "total": total}
    finally:
        src.close()
        await conn.close()


async def _copy_table(src, conn, table, cols, target):
    rows = src.execute("SELECT %s FROM %s" % (",".join(cols), table)).fetchall()
    if not rows:
        return
    if table == "runs":
        i = cols.index("idempotent")
        rows = [r[:i] + (bool(r[i]),) + r[i + 1:] for r in rows]
    if table == "commands":  # events is JSON text in both stores
        rows = [r[:-1] + (r[-1] if r[-1] is not None else json.dumps([]),) for r in rows]
    updates = ",".join("%s=excluded.%s" % (c, c) for c in cols if c not in target.replace(" ", "").split(","))
    sql = "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO %s" % (
        table, ",".join(cols), ",".join("$%d" % (k + 1) for k in range(len(cols))), target,
        ("UPDATE SET " + updates) if updates else "NOTHING")
    async with conn.transaction():
        await conn.executemany(sql, rows)
