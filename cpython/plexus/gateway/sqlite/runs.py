"""Command runs, legacy commands and test runs on SQLite."""

import json

from plexus.gateway.store import (OPEN_RUN, RUN_FIELDS, command_from_row, dumps, run_from_row, run_values,
                                  test_run_values)


def get_run(conn, run_id):
    r = conn.execute("SELECT %s FROM runs WHERE run_id=?" % ",".join(RUN_FIELDS), (run_id,)).fetchone()
    return run_from_row(r) if r else None


def put_run(conn, run):
    conn.execute("INSERT OR REPLACE INTO runs (%s) VALUES (%s)" % (",".join(RUN_FIELDS), ",".join("?" * len(RUN_FIELDS))),
                 run_values(run))


def open_runs(conn, source_id):
    rows = conn.execute("SELECT %s FROM runs WHERE source_id=? AND %s ORDER BY created_ms"
                        % (",".join(RUN_FIELDS), OPEN_RUN), (source_id,))
    return [run_from_row(r) for r in rows]


def new_command(conn, cid, source_id, command, params, t):
    conn.execute("INSERT INTO commands (id, source_id, command, params, created_ms) VALUES (?,?,?,?,?)",
                 (cid, source_id, command, dumps(params), t))


def command_event(conn, cid, source_id, frame):
    row = conn.execute("SELECT events FROM commands WHERE id=? AND source_id=?", (cid, source_id)).fetchone()
    if row is None:
        return False
    events = json.loads(row[0])
    events.append(frame)
    conn.execute("UPDATE commands SET events=? WHERE id=?", (dumps(events), cid))
    return True


def get_command(conn, source_id, cid):
    return command_from_row(conn.execute(
        "SELECT id, command, params, created_ms, events FROM commands WHERE id=? AND source_id=?",
        (cid, source_id)).fetchone())


def put_test_run(conn, run):
    conn.execute("INSERT OR REPLACE INTO test_runs VALUES (?,?,?,?,?,?,?,?)", test_run_values(run))


def get_test_run(conn, run_id):
    row = conn.execute("SELECT body FROM test_runs WHERE id=?", (run_id,)).fetchone()
    return json.loads(row[0]) if row else None
