"""The Data API's reads on SQLite: latest values, raw and bucketed series,
events, one metric across the fleet. Read jobs, on the reader threads.

Points are in two tables (sqlite/points.py). Each read runs on both and
combines the two answers here: through the view `points` every row passed
a subquery with all its columns, and reads of a long window took two to
five times as long."""

import heapq
import itertools
import json

from plexus.gateway.sqlite.sources import metric_names
from plexus.gateway.store import MAX_ROWS, aggregated_series, event_list, fleet_series, raw_series

TABLES = ("points_indexed", "points_recent")


def _each(conn, sql, args):
    """`sql` (%s for the table) on each of the two tables: a list of row lists."""
    return [conn.execute(sql % table, args).fetchall() for table in TABLES]


def _buckets(parts, key_len):
    """Bucket rows from both tables, (*key, min, max, sum, count) each, as
    (*key, min, max, avg, count) in key order."""
    merged = {}
    for rows in parts:
        for r in rows:
            key, lo, hi, total, n = r[:key_len], r[key_len], r[key_len + 1], r[key_len + 2], r[key_len + 3]
            m = merged.get(key)
            merged[key] = (lo, hi, total, n) if m is None else (min(m[0], lo), max(m[1], hi), m[2] + total, m[3] + n)
    return [k + (lo, hi, total / n, n) for k, (lo, hi, total, n) in sorted(merged.items())]


def latest(conn, source_id, since_ms):
    newest = {}
    for rows in _each(conn, "SELECT metric, value, max(ts) FROM %s WHERE source_id=? AND class='metric' "
                      "AND ts>=? GROUP BY metric", (source_id, since_ms)):
        for metric, value, ts in rows:
            if metric not in newest or ts > newest[metric][1]:
                newest[metric] = (value, ts)
    return {m: json.loads(v) for m, (v, _) in newest.items()}


def _metric_filter(conn, source_id, metrics):
    """An `AND metric IN (...)` clause: the names asked for, or all of the source's."""
    metrics = list(metrics) or metric_names(conn, source_id)
    return " AND metric IN (%s)" % ",".join("?" * len(metrics)), metrics


def raw(conn, source_id, metrics, start, end):
    where, args = _metric_filter(conn, source_id, metrics)
    parts = _each(conn, "SELECT ts, id, metric, num FROM %s WHERE source_id=? AND class='metric' AND ts>=? "
                  "AND ts<=?" + where + " ORDER BY ts, id LIMIT ?", [source_id, start, end] + args + [MAX_ROWS])
    rows = itertools.islice(heapq.merge(*parts), MAX_ROWS)  # (ts, id) order, as one table would give
    return raw_series([(m, ts, num) for ts, _, m, num in rows])


def aggregated(conn, source_id, metrics, start, end, bucket_ms):
    where, args = _metric_filter(conn, source_id, metrics)
    base = " FROM %s WHERE source_id=? AND class='metric' AND ts>=? AND ts<=?" + where
    total = sum(rows[0][0] for rows in _each(conn, "SELECT count(*) FROM (SELECT 1" + base + " LIMIT ?)",
                                             [source_id, start, end] + args + [MAX_ROWS]))
    parts = _each(conn, "SELECT (ts / ?) * ? AS b, metric, min(num), max(num), sum(num), count(*)" + base +
                  " GROUP BY metric, b", [bucket_ms, bucket_ms, source_id, start, end] + args)
    rows = [(m, b, lo, hi, avg, n) for b, m, lo, hi, avg, n in _buckets(parts, 2)]  # by bucket, then metric
    return aggregated_series(rows, min(total, MAX_ROWS))


def events(conn, source_id, start, end, name, limit, newest):
    sql = "SELECT ts, id, metric, value, tags FROM %s WHERE source_id=? AND class='event' AND ts>=? AND ts<=?"
    args = [source_id, start, end]
    if name:
        sql += " AND metric=?"
        args.append(name)
    sql += (" ORDER BY ts DESC, id DESC" if newest else " ORDER BY ts, id") + " LIMIT ?"
    rows = itertools.islice(heapq.merge(*_each(conn, sql, args + [limit]), reverse=newest), limit)
    return event_list([(ts, m, v, tags) for ts, _, m, v, tags in rows], newest)


def fleet_metric(conn, metric, start, end, bucket_ms, max_buckets):
    """Per source: `timestamp_ms` (bucket start), `avg`, `min`, `max` and
    `count` arrays, at most `max_buckets` buckets in all."""
    # Each table's first max_buckets buckets hold every bucket of the first max_buckets in all.
    parts = _each(conn, "SELECT source_id, CAST(ts / ? AS INTEGER) * ? AS b, min(num), max(num), sum(num), "
                  "count(*) FROM %s WHERE source_id IN (SELECT source_id FROM metric_names WHERE metric=?) "
                  "AND class='metric' AND metric=? AND ts>=? AND ts<=? GROUP BY source_id, b "
                  "ORDER BY source_id, b LIMIT ?", (bucket_ms, bucket_ms, metric, metric, start, end, max_buckets))
    rows = [(sid, b, avg, lo, hi, n) for sid, b, lo, hi, avg, n in _buckets(parts, 2)[:max_buckets]]
    return fleet_series(rows, max_buckets)


def metric_values(conn, source_id, metric, start, end):
    sql = "SELECT num FROM %s WHERE class='metric' AND metric=? AND ts>=? AND ts<=?"
    args = [metric, start, end]
    if source_id:
        sql += " AND source_id=?"
        args.append(source_id)
    else:
        sql += " AND source_id IN (SELECT source_id FROM metric_names WHERE metric=?)"
        args.append(metric)
    return [r[0] for rows in _each(conn, sql, args) for r in rows]
