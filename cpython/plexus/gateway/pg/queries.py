"""The Data API's reads on PostgreSQL: latest values, raw and bucketed
series, events, one metric across the fleet."""

import json

from plexus.gateway.pg.sources import metric_names
from plexus.gateway.store import MAX_ROWS, aggregated_series, event_list, fleet_series, raw_series


async def latest(c, source_id, since_ms):
    # One index probe per metric name, newest first.
    rows = await c.fetch(
        "SELECT n.metric, p.value FROM metric_names n CROSS JOIN LATERAL (SELECT value FROM points "
        "WHERE source_id=n.source_id AND class='metric' AND metric=n.metric AND ts>=$2 "
        "ORDER BY ts DESC, id DESC LIMIT 1) p WHERE n.source_id=$1", source_id, since_ms)
    return {r[0]: json.loads(r[1]) for r in rows}


async def _names(c, source_id, metrics):
    return list(dict.fromkeys(metrics)) or await metric_names(c, source_id)  # each name once


async def raw(c, source_id, metrics, start, end):
    names = await _names(c, source_id, metrics)
    # One index scan per metric, each in time order and stopping at the cap:
    # `metric = ANY(...)` would read the whole window of every metric and sort it.
    rows = await c.fetch(
        "SELECT p.metric, p.ts, p.num FROM unnest($2::text[]) AS m(name) CROSS JOIN LATERAL ("
        "SELECT metric, ts, num, id FROM points WHERE source_id=$1 AND class='metric' AND metric=m.name "
        "AND ts>=$3 AND ts<=$4 ORDER BY ts, id LIMIT $5) p ORDER BY p.ts, p.id LIMIT $5",
        source_id, names, start, end, MAX_ROWS)
    return raw_series(rows)


async def aggregated(c, source_id, metrics, start, end, bucket_ms):
    base = " FROM points WHERE source_id=$1 AND class='metric' AND metric = ANY($2) AND ts>=$3 AND ts<=$4"
    names = await _names(c, source_id, metrics)
    total = await c.fetchval("SELECT count(*) FROM (SELECT 1" + base + " LIMIT $5) t",
                             source_id, names, start, end, MAX_ROWS)
    rows = await c.fetch("SELECT metric, (ts / $5) * $5 AS b, min(num), max(num), avg(num), count(*)" +
                         base + " GROUP BY metric, b ORDER BY b", source_id, names, start, end, bucket_ms)
    return aggregated_series(rows, total)


async def events(c, source_id, start, end, name, limit, newest):
    sql = "SELECT ts, metric, value, tags FROM points WHERE source_id=$1 AND class='event' AND ts>=$2 AND ts<=$3"
    args = [source_id, start, end]
    if name:
        sql += " AND metric=$4"
        args.append(name)
    sql += (" ORDER BY ts DESC, id DESC" if newest else " ORDER BY ts, id") + " LIMIT $%d" % (len(args) + 1)
    return event_list(await c.fetch(sql, *args, limit), newest)


async def fleet_metric(c, metric, start, end, bucket_ms, max_buckets):
    rows = await c.fetch(
        "SELECT p.source_id, (p.ts / $4) * $4 AS b, avg(num), min(num), max(num), count(*) FROM metric_names n "
        "JOIN points p ON p.source_id=n.source_id AND p.class='metric' AND p.metric=n.metric "
        "WHERE n.metric=$1 AND p.ts>=$2 AND p.ts<=$3 GROUP BY p.source_id, b ORDER BY p.source_id, b LIMIT $5",
        metric, start, end, bucket_ms, max_buckets)
    return fleet_series([tuple(r) for r in rows], max_buckets)


async def metric_values(c, source_id, metric, start, end):
    if source_id:
        rows = await c.fetch("SELECT num FROM points WHERE class='metric' AND metric=$1 AND ts>=$2 AND ts<=$3 "
                             "AND source_id=$4", metric, start, end, source_id)
    else:
        rows = await c.fetch("SELECT p.num FROM metric_names n JOIN points p ON p.source_id=n.source_id "
                             "AND p.class='metric' AND p.metric=n.metric WHERE n.metric=$1 AND p.ts>=$2 "
                             "AND p.ts<=$3", metric, start, end)
    return [r[0] for r in rows]
