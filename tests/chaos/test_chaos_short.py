"""A short chaos run (tools/chaos.py) in the suite: gateway SIGKILLs and
restarts, cut connections, client kills and board power cuts, then every
committed reading is stored exactly once."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import chaos  # noqa: E402


def test_short_chaos_run_loses_and_duplicates_nothing():
    out = chaos.main(["--seconds", "25", "--clients", "2", "--boards", "1", "--seed", "3"])
    assert sum(out["actions"].values()) >= 8, out["actions"]
    for r in out["results"]:
        assert r["committed"] > 0 and r["stored"] >= r["committed"], r
        assert r["lost"] == 0 and r["duplicated"] == 0, r
    assert out["ok"]


def test_short_cluster_chaos_run_loses_and_duplicates_nothing(haproxy_bin):
    """Three replicas on PostgreSQL behind HAProxy: replica SIGKILLs and
    restarts, a PostgreSQL restart or two, cut links."""
    from support.postgres import find_bin
    if find_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    out = chaos.main(["--cluster", "--seconds", "25", "--clients", "2", "--boards", "1", "--seed", "5"])
    assert sum(out["actions"].values()) >= 8, out["actions"]
    for r in out["results"]:
        assert r["committed"] > 0 and r["stored"] >= r["committed"], r
        assert r["lost"] == 0 and r["duplicated"] == 0, r
    assert out["ok"]
