"""What every gateway store shares, whatever the database underneath (SQLite
in gateway/sqlite/, PostgreSQL in gateway/pg/): a point's stored row, the
shapes the Data API answers with (built here from either database's rows),
and the stored form of command runs, legacy commands and test runs. The
store interface itself is storage.py.
"""

import json
import sqlite3
import time

MAX_ROWS = 10000  # Data API results are capped here and flagged `truncated`
TS_END = 2 ** 63 - 1  # the largest stored timestamp (ms)
LATEST_WINDOW_MS = 3600000  # `latest` looks at the last hour (and any later time), as the hosted API does

POINT_COLUMNS = ("source_id", "metric", "class", "ts", "num", "value", "tags", "received_ms")


def stored_ts(p, received_ms):
    """A point's stored time: its own (any finite number is taken, kept to the
    64 bits a store holds) or, without one, when it was received."""
    ts = p["timestamp"]
    if ts is None:
        return received_ms
    if not -TS_END <= ts <= TS_END:
        return TS_END if ts > 0 else -TS_END
    return int(ts)


def now_ms():
    return int(time.time() * 1000)


def store_unavailable(e):
    """True when a write failed because of the database (disk full, I/O,
    locked, server gone): worth retrying. Anything else is about the data itself."""
    return isinstance(e, (sqlite3.OperationalError, sqlite3.DatabaseError, OSError)) and \
        not isinstance(e, sqlite3.IntegrityError)


def dumps(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def point_rows(source_id, points, received_ms, rows):
    """Append one POINT_COLUMNS tuple per point to `rows` (the ingest hot
    path: one loop, no call per point for the usual integer timestamp)."""
    append = rows.append
    for p in points:
        v = p["value"]
        if p["class"] == "metric":  # a finite int or float: repr() is its JSON text, ~10x cheaper
            num, text = float(v), repr(v)  # a double: an int past 2**63 is no integer column
        else:
            num, text = None, dumps(v)
        ts = p["timestamp"]
        if type(ts) is not int or not -TS_END <= ts <= TS_END:
            ts = stored_ts(p, received_ms)
        tags = p.get("tags")
        append((source_id, p["metric"], p["class"], ts, num, text, dumps(tags) if tags else None, received_ms))
    return rows


# -- Data API answers, from (tuple-like) rows of either database -----------------------

def source_row(row):
    """(source_id, last_seen_ms, commands, cameras) -> a source."""
    return {"source_id": row[0], "last_seen_ms": row[1],
            "commands": json.loads(row[2]) if row[2] else [],
            "cameras": json.loads(row[3]) if row[3] else []}


def raw_series(rows):
    """(metric, ts, num) rows in time order -> ({metric: {timestamp_ms, value}}, truncated)."""
    series = {}
    for m, ts, num in rows:
        s = series.get(m)
        if s is None:
            s = series[m] = {"timestamp_ms": [], "value": []}
        s["timestamp_ms"].append(ts)
        s["value"].append(num)
    return series, len(rows) >= MAX_ROWS


def aggregated_series(rows, total):
    """(metric, bucket, min, max, avg, count) rows by bucket, and how many points
    (up to MAX_ROWS) the window holds -> ({metric: {...arrays}}, truncated)."""
    series = {}
    for m, b, lo, hi, avg, n in rows:
        s = series.setdefault(m, {"timestamp_ms": [], "min": [], "max": [], "avg": [], "count": []})
        s["timestamp_ms"].append(b)
        s["min"].append(lo)
        s["max"].append(hi)
        s["avg"].append(avg)
        s["count"].append(n)
    return series, total >= MAX_ROWS


def event_list(rows, newest):
    """(ts, metric, value, tags) rows, in query order -> events oldest first
    (a `newest` query reads newest first, to take the last `limit`)."""
    rows = list(rows)
    if newest:
        rows.reverse()
    return [{"timestamp_ms": r[0], "metric": r[1], "value": json.loads(r[2]),
             "tags": json.loads(r[3]) if r[3] else {}} for r in rows]


def fleet_series(rows, max_buckets):
    """(source_id, bucket, avg, min, max, count) rows, ordered by source and
    bucket -> ([per-source series of arrays], truncated)."""
    series = {}
    for sid, b, avg, lo, hi, n in rows:
        s = series.setdefault(sid, {"source_id": sid, "timestamp_ms": [], "avg": [], "min": [], "max": [],
                                    "count": []})
        s["timestamp_ms"].append(b)
        s["avg"].append(avg)
        s["min"].append(lo)
        s["max"].append(hi)
        s["count"].append(n)
    return list(series.values()), len(rows) >= max_buckets


# -- command runs, legacy commands, test runs: stored form -------------------------------

RUN_FIELDS = ("run_id", "source_id", "command", "params", "created_ms", "deadline_ms", "idempotent",
              "attempt", "state", "seq", "progress", "result", "error_code", "error_message", "message",
              "statuses")
JSON_RUN_FIELDS = ("params", "result", "statuses")
OPEN_RUN = "state NOT IN ('succeeded','failed','expired')"  # SQL: a run still to be delivered or answered


def run_values(run):
    """A run -> its RUN_FIELDS column values (JSON as text)."""
    vals = [(dumps(run[f]) if f in JSON_RUN_FIELDS and run[f] is not None else run[f]) for f in RUN_FIELDS]
    vals[RUN_FIELDS.index("idempotent")] = bool(run["idempotent"])
    return vals


def run_from_row(row):
    run = dict(zip(RUN_FIELDS, row))
    for f in JSON_RUN_FIELDS:
        if run[f] is not None:
            run[f] = json.loads(run[f])
    run["idempotent"] = bool(run["idempotent"])
    return run


def command_from_row(r):
    """(id, command, params, created_ms, events) -> a legacy command, or None."""
    if r is None:
        return None
    return {"id": r[0], "command": r[1], "params": json.loads(r[2]), "created_ms": r[3],
            "events": json.loads(r[4])}


def test_run_values(run):
    """A test run -> its test_runs column values (the whole run kept as `body`)."""
    return (run["id"], run["name"], run["source_id"], run["started_ms"], run.get("ended_ms"), run["status"],
            json.dumps(run), json.dumps(run.get("test_result")))
