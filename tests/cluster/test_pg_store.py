"""The PostgreSQL store on a real server: start-up errors, the server going
away and coming back, batch dedup across gateways sharing one database,
migrations, and retention by whole-day partitions."""

import asyncio
import os
import subprocess
import sys
import time

import pytest
import websocket

from plexus import Plexus
from plexus.gateway.pg import schema
from plexus.gateway.pg.store import PostgresStore
from support.gateway import Gateway
from support.postgres import PostgresServer, free_port, query
from support.raw import device, http, ingest
from support.waiting import wait_for
from support import aio


def plexus_gateway(*args, env=None):
    tool = os.path.join(os.path.dirname(sys.executable), "plexus")
    r = subprocess.run([tool, "gateway"] + list(args), capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **(env or {})))
    return r.returncode, r.stdout, r.stderr


def test_unreachable_postgres_is_a_clear_error_without_the_password():
    url = "postgresql://plexus:hunter2@127.0.0.1:%d/fleet" % free_port()
    for args in (["--port", "0", "--store", url], ["keys", "list", "--store", url]):
        rc, out, err = plexus_gateway(*args)
        assert rc == 1, (out, err)
        assert "cannot use PostgreSQL at postgresql://plexus:***@127.0.0.1" in err and "/fleet" in err
        assert "hunter2" not in err + out
    # the environment variable is read too
    rc, _, err = plexus_gateway("keys", "list", env={"PLEXUS_GATEWAY_STORE": url})
    assert rc == 1 and "cannot use PostgreSQL" in err and "hunter2" not in err


def test_store_must_be_a_postgres_url(tmp_path):
    rc, _, err = plexus_gateway("keys", "list", "--store", str(tmp_path / "g.db"))
    assert rc != 0 and "--store must be a postgresql://" in err


def test_a_batch_resent_to_another_gateway_is_stored_once(postgres, tmp_path):
    url = postgres.new_database()
    a = Gateway(tmp_path / "a", store_url=url).start()
    b = Gateway(tmp_path / "b", store_url=url, ).start()
    b.key = a.key
    try:
        pts = [{"metric": "v", "value": i, "timestamp": 1764000000000 + i} for i in range(50)]
        assert ingest(a, pts, batch_id="cut-1")[0] == 200
        assert ingest(b, pts, batch_id="cut-1")[0] == 200   # resent after a cut, through another replica
        assert ingest(b, pts[:5], batch_id="cut-2")[0] == 200
        assert a.count("rig-1") == 55
    finally:
        a.stop()
        b.stop()


def test_migrations_run_once_when_replicas_start_together(postgres):
    url = postgres.new_database()

    async def go():
        stores = [PostgresStore(url, pool_size=1) for _ in range(3)]
        await asyncio.gather(*(s.open() for s in stores))
        for s in stores:
            await s.aclose()
    aio.run(go())
    assert query(url, "SELECT version FROM schema_migrations ORDER BY version") == \
        [(v,) for v, _ in schema.MIGRATIONS]


def test_a_database_of_schema_2_keeps_its_points_through_the_index_migration(postgres, monkeypatch):
    url = postgres.new_database()
    day = schema.DAY_MS
    today = (int(time.time() * 1000) // day) * day
    pts = [{"class": "metric", "metric": "t", "value": i, "timestamp": today + i, "tags": None} for i in range(20)]

    async def open_store():
        st = PostgresStore(url, pool_size=1)
        await st.open()
        return st

    async def before():
        st = await open_store()
        try:
            assert await st.store_batch("rig-1", "b1", pts) == 20
        finally:
            await st.aclose()
    monkeypatch.setattr(schema, "MIGRATIONS", [m for m in schema.MIGRATIONS if m[0] <= 2])
    aio.run(before())
    monkeypatch.undo()

    async def after():
        st = await open_store()
        try:
            resend = await st.store_batch("rig-1", "b1", pts)          # the batch ids went through too
            return resend, await st.raw("rig-1", [], today, today + day)
        finally:
            await st.aclose()
    resend, (series, truncated) = aio.run(after())
    assert resend is None and not truncated
    assert series["t"]["value"] == [float(i) for i in range(20)]
    assert query(url, "SELECT max(version) FROM schema_migrations") == [(schema.MIGRATIONS[-1][0],)]
    # every day partition has the metric index, on byte-order names
    indexed = query(url, "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%(source_id, metric, ts)%' "
                         "AND indexdef LIKE '%WHERE (class = ''metric''::text)' ORDER BY 1")
    assert (schema.partition_name(today // day),) in indexed and ("points_other",) in indexed
    assert query(url, "SELECT collation_name FROM information_schema.columns WHERE table_name = 'points' "
                      "AND column_name IN ('source_id', 'metric')") == [("C",), ("C",)]


def test_retention_drops_whole_days_and_a_day_query_reads_one_partition(postgres):
    url = postgres.new_database()
    day = schema.DAY_MS
    today = (int(time.time() * 1000) // day) * day

    async def go():
        st = PostgresStore(url, pool_size=2)
        await st.open()
        try:
            for d in (3, 2, 0):
                pts = [{"class": "metric", "metric": "t", "value": i, "timestamp": today - d * day + i, "tags": None}
                       for i in range(10)]
                assert await st.store_batch("rig-1", None, pts) == 10
            # a broken clock lands in the default partition, not a partition of its own
            assert await st.store_batch("rig-1", None, [{"class": "metric", "metric": "t", "value": 1,
                                                          "timestamp": 5, "tags": None}]) == 1
            dropped = await st.drop_points_before(today - day)
            series, _ = await st.raw("rig-1", [], 0, today + day)
            return dropped, series["t"]["timestamp_ms"]
        finally:
            await st.aclose()
    dropped, kept = aio.run(go())
    assert dropped == [schema.partition_name(today // day - 3), schema.partition_name(today // day - 2)]
    assert kept == [today + i for i in range(10)]
    plan = "\n".join(r[0] for r in query(
        url, "EXPLAIN SELECT metric, ts, num FROM points WHERE source_id='rig-1' AND class='metric' "
             "AND metric = ANY($1) AND ts >= $2 AND ts <= $3", ["t"], today, today + day - 1))
    assert schema.partition_name(today // day) in plan and "points_other" not in plan


def test_postgres_restart_while_running_loses_nothing_and_answers_503_meanwhile(tmp_path):
    srv = PostgresServer().start()         # a server of its own: this test stops it
    try:
        gw = Gateway(tmp_path / "gw", store_url=srv.new_database(), rate_limits=False).start()
        px = Plexus(api_key=gw.key, source_id="pg-down", ws_url=gw.ws_url, timeout=10)
        try:
            for i in range(500):
                px.send("seq", i)
            wait_for(lambda: px.buffer_size() == 0, what="first readings acknowledged")
            srv.stop()
            for i in range(500, 1500):
                px.send("seq", i)
            status, body, hdrs = http(gw, "POST", "/ingest", {"source_id": "h", "points": [{"metric": "x",
                                                                                             "value": 1}]},
                                      key=gw.key)
            assert status == 503 and "try again later" in body["error"] and hdrs["Retry-After"]
            status, body, hdrs = http(gw, "GET", "/v1/sources", key=gw.key)  # the Data API's shape, same header
            assert status == 503 and "try again later" in body["detail"] and hdrs["Retry-After"]
            assert px.buffer_size() > 0       # nothing acknowledged while the database is away
            with pytest.raises(websocket.WebSocketException):  # devices are turned away, not accepted
                for _ in range(3):
                    device(gw, "pg-later")
            srv.resume()
            wait_for(lambda: px.buffer_size() == 0, timeout=120, what="backlog delivered after the restart")
            got = [r[0] for r in query(gw.store_url, "SELECT num FROM points WHERE source_id='pg-down' "
                                                     "ORDER BY ts, id")]
            assert sorted(got) == [float(i) for i in range(1500)]     # none lost, none twice
            assert ingest(gw, [{"metric": "x", "value": 1}], source_id="h")[0] == 200
            assert "unavailable" in gw.log() and "is back" in gw.log()
        finally:
            px.close()
            gw.stop()
    finally:
        srv.destroy()


def test_deleting_a_source_removes_its_data_only(postgres):
    url = postgres.new_database()

    async def go():
        st = PostgresStore(url, pool_size=1)
        await st.open()
        try:
            for sid in ("gone", "kept"):
                await st.store_batch(sid, "b1", [{"class": "metric", "metric": "t", "value": 1,
                                                  "timestamp": 1764000000000, "tags": None}] * 3)
            assert await st.delete_source("gone") == 3
            return [s["source_id"] for s in await st.sources()], await st.metric_names("gone"), \
                await st.store_batch("gone", "b1", [{"class": "metric", "metric": "t", "value": 2,
                                                     "timestamp": 1764000000001, "tags": None}])
        finally:
            await st.aclose()
    sources, names, again = aio.run(go())
    assert sources == ["kept"]
    assert names == [] and again == 1          # its batch ids went too: a new batch b1 is stored
    assert query(url, "SELECT source_id, count(*) FROM points GROUP BY 1 ORDER BY 1") == [("gone", 1), ("kept", 3)]


def test_raw_takes_the_first_10000_rows_in_time_order_across_metrics(postgres):
    url = postgres.new_database()
    t0 = (int(time.time() * 1000) // schema.DAY_MS) * schema.DAY_MS
    pts = [{"class": "metric", "metric": "ab"[i % 2], "value": i, "timestamp": t0 + i, "tags": None}
           for i in range(12000)]

    async def go():
        st = PostgresStore(url, pool_size=1)
        await st.open()
        try:
            assert await st.store_batch("rig-1", "b1", pts) == 12000
            return await st.raw("rig-1", [], t0, t0 + 20000), await st.raw("rig-1", ["b", "a", "b"], t0, t0 + 20000)
        finally:
            await st.aclose()
    every, named = aio.run(go())
    for series, truncated in (every, named):
        assert truncated is True
        assert series["a"]["timestamp_ms"] == [t0 + i for i in range(0, 10000, 2)]
        assert series["b"]["timestamp_ms"] == [t0 + i for i in range(1, 10000, 2)]
