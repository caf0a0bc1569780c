"""The Data API's reads on SQLite: latest values, raw and bucketed series,
events, one metric across the fleet. Read jobs, on the reader threads."""

import json

from plexus.gateway.sqlite.sources import metric_names
from plexus.gateway.store import MAX_ROWS, aggregated_series, event_list, fleet_series, raw_series


def latest(conn, source_id, since_ms):
    rows = conn.execute("SELECT metric, value, max(ts) FROM points WHERE source_id=? AND class='metric' "
                        "AND ts>=? GROUP BY metric", (source_id, since_ms))
    return {r[0]: json.loads(r[1]) for r in rows}


def _metric_filter(conn, source_id, metrics):
    """An `AND metric IN (...)` clause: the names asked for, or all of the source's."""
    metrics = list(metrics) or metric_names(conn, source_id)
    return " AND metric IN (%s)" % ",".join("?" * len(metrics)), metrics


def raw(conn, source_id, metrics, start, end):
    where, args = _metric_filter(conn, source_id, metrics)
    rows = conn.execute("SELECT metric, ts, num FROM points WHERE source_id=? AND class='metric' AND ts>=? "
                        "AND ts<=?" + where + " ORDER BY ts, id LIMIT ?",
                        [source_id, start, end] + args + [MAX_ROWS]).fetchall()
    return raw_series(rows)


def aggregated(conn, source_id, metrics, start, end, bucket_ms):
    where, args = _metric_filter(conn, source_id, metrics)
    base = " FROM points WHERE source_id=? AND class='metric' AND ts>=? AND ts<=?" + where
    total = conn.execute("SELECT count(*) FROM (SELECT 1" + base + " LIMIT ?)",
                         [source_id, start, end] + args + [MAX_ROWS]).fetchone()[0]
    rows = conn.execute("SELECT metric, (ts / ?) * ? AS b, min(num), max(num), avg(num), count(*)" + base +
                        " GROUP BY metric, b ORDER BY b", [bucket_ms, bucket_ms, source_id, start, end] + args)
    return aggregated_series(rows, total)


def events(conn, source_id, start, end, name, limit, newest):
    sql = "SELECT ts, metric, value, tags FROM points WHERE source_id=? AND class='event' AND ts>=? AND ts<=?"
    args = [source_id, start, end]
    if name:
        sql += " AND metric=?"
        args.append(name)
    sql += (" ORDER BY ts DESC, id DESC" if newest else " ORDER BY ts, id") + " LIMIT ?"
    return event_list(conn.execute(sql, args + [limit]).fetchall(), newest)


def fleet_metric(conn, metric, start, end, bucket_ms, max_buckets):
    """Per source: `timestamp_ms` (bucket start), `avg`, `min`, `max` and
    `count` arrays, at most `max_buckets` buckets in all."""
    rows = conn.execute("SELECT source_id, CAST(ts / ? AS INTEGER) * ? AS b, avg(num), min(num), max(num), "
                        "count(*) FROM points WHERE source_id IN (SELECT source_id FROM metric_names "
                        "WHERE metric=?) AND class='metric' AND metric=? AND ts>=? AND ts<=? "
                        "GROUP BY source_id, b ORDER BY source_id, b LIMIT ?",
                        (bucket_ms, bucket_ms, metric, metric, start, end, max_buckets)).fetchall()
    return fleet_series(rows, max_buckets)


def metric_values(conn, source_id, metric, start, end):
    sql = "SELECT num FROM points WHERE class='metric' AND metric=? AND ts>=? AND ts<=?"
    args = [metric, start, end]
    if source_id:
        sql += " AND source_id=?"
        args.append(source_id)
    else:
        sql += " AND source_id IN (SELECT source_id FROM metric_names WHERE metric=?)"
        args.append(metric)
    return [r[0] for r in conn.execute(sql, args)]
