"""Command runs, legacy commands and test runs on PostgreSQL. A run or
command another replica must deliver is announced inside the transaction
that stores it."""

import json

from plexus.gateway.pg.bus import notify
from plexus.gateway.store import (OPEN_RUN, RUN_FIELDS, command_from_row, dumps, run_from_row, run_values,
                                  test_run_values)

_PUT_RUN = "INSERT INTO runs (%s) VALUES (%s) ON CONFLICT (run_id) DO UPDATE SET %s" % (
    ",".join(RUN_FIELDS), ",".join("$%d" % (i + 1) for i in range(len(RUN_FIELDS))),
    ",".join("%s=excluded.%s" % (f, f) for f in RUN_FIELDS[1:]))


async def put_run(c, run, cluster):
    async with c.transaction():
        await c.execute(_PUT_RUN, *run_values(run))
        if cluster is not None:  # told only if another replica holds the device now
            await notify(c, cluster.run_payloads(run), run["source_id"], cluster.id)


async def get_run(c, run_id):
    r = await c.fetchrow("SELECT %s FROM runs WHERE run_id=$1" % ",".join(RUN_FIELDS), run_id)
    return run_from_row(r) if r else None


async def open_runs(c, source_id):
    rows = await c.fetch("SELECT %s FROM runs WHERE source_id=$1 AND %s ORDER BY created_ms"
                         % (",".join(RUN_FIELDS), OPEN_RUN), source_id)
    return [run_from_row(r) for r in rows]


async def new_command(c, cid, source_id, command, params, t, cluster):
    async with c.transaction():
        await c.execute("INSERT INTO commands (id, source_id, command, params, created_ms) "
                        "VALUES ($1,$2,$3,$4,$5)", cid, source_id, command, dumps(params), t)
        if cluster is not None:
            await notify(c, cluster.command_payloads(cid, source_id))


async def command_event(c, cid, source_id, frame):
    status = await c.execute("UPDATE commands SET events = (events::jsonb || jsonb_build_array($3::jsonb))::text "
                             "WHERE id=$1 AND source_id=$2", cid, source_id, dumps(frame))
    return status.split()[-1] != "0"


async def get_command(c, source_id, cid):
    return command_from_row(await c.fetchrow(
        "SELECT id, command, params, created_ms, events FROM commands WHERE id=$1 AND source_id=$2", cid, source_id))


async def put_test_run(c, run):
    await c.execute("INSERT INTO test_runs VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO UPDATE SET "
                    "name=excluded.name, source_id=excluded.source_id, started_ms=excluded.started_ms, "
                    "ended_ms=excluded.ended_ms, status=excluded.status, body=excluded.body, "
                    "test_result=excluded.test_result", *test_run_values(run))


async def get_test_run(c, run_id):
    body = await c.fetchval("SELECT body FROM test_runs WHERE id=$1", run_id)
    return json.loads(body) if body else None
