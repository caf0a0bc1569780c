"""`plexus gateway migrate`: a local gateway's points, keys and runs move to
PostgreSQL; an interrupted migration resumes without copying twice."""

import os
import subprocess
import sys

import pytest

from plexus.gateway.pg import migrate as migrate_mod
from support.gateway import Gateway
from support.postgres import query
from support.raw import http, ingest
from support import aio


def test_migrate_moves_everything_and_resumes_after_an_interruption(postgres, tmp_path, monkeypatch):
    local = Gateway(tmp_path / "local", store="sqlite").start()
    day = 86400000
    for d in range(3):
        pts = [{"metric": "v", "value": i, "timestamp": 1764000000000 + d * day + i} for i in range(700)]
        assert ingest(local, pts, batch_id="b%d" % d)[0] == 200
    assert ingest(local, [{"metric": "log", "value": {"msg": "boot"}}], source_id="rig-2")[0] == 200
    status, run, _ = http(local, "POST", "/v1/sources/rig-1/runs", {"command": "blink"}, key=local.key)
    assert status == 201
    status, test_run, _ = http(local, "POST", "/api/runs", {"name": "soak", "started_at": "2026-11-25T10:00:00Z"},
                               key=local.key)
    assert status == 201
    local.stop()
    url = postgres.new_database()

    class Interrupted(Exception):
        pass

    def stop_after_first_chunk(done, total):
        if done >= 500:
            raise Interrupted()
    monkeypatch.setattr(migrate_mod, "CHUNK", 500)
    with pytest.raises(Interrupted):
        aio.run(migrate_mod.migrate(local.db_path, url, stop_after_first_chunk))
    assert query(url, "SELECT count(*) FROM points")[0][0] == 500

    tool = os.path.join(os.path.dirname(sys.executable), "plexus")
    r = subprocess.run([tool, "gateway", "migrate", "--from", local.db_path, "--to", url], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "migrated 1601 points (2101 in" in r.stdout

    moved = Gateway(tmp_path / "moved", store_url=url)
    moved.key = local.key                      # the local key works on PostgreSQL: its hash moved
    moved.start()
    try:
        assert moved.count("rig-1") == 2100 and moved.count("rig-2") == 1
        assert [p["value"] for p in moved.points("rig-1")[:3]] == [0, 1, 2]
        assert http(moved, "GET", "/v1/sources/rig-1/runs/" + run["run_id"], key=local.key)[1]["command"] == "blink"
        assert http(moved, "GET", "/api/runs/" + test_run["run"]["id"], key=local.key)[1]["run"]["name"] == "soak"
        assert ingest(moved, [{"metric": "v", "value": 1}], batch_id="b0")[0] == 200   # batch ids moved too
        assert moved.count("rig-1") == 2100
    finally:
        moved.stop()
    r = subprocess.run([tool, "gateway", "migrate", "--from", local.db_path, "--to", url], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "migrated 0 points" in r.stdout     # run again: nothing twice
