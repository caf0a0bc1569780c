"""Every gateway test here runs on both stores: SQLite (the default) and
PostgreSQL (a server the tests start, one database per test).
PLEXUS_TEST_STORE=sqlite (or postgresql) runs one of them only."""

import os

import pytest

from support import gateway as support_gateway

STORES = os.environ.get("PLEXUS_TEST_STORE", "sqlite,postgresql").split(",")


@pytest.fixture(autouse=True, params=STORES)
def store_kind(request, monkeypatch):
    if request.param == "postgresql":
        request.getfixturevalue("postgres")
    monkeypatch.setattr(support_gateway, "STORE", request.param)
    return request.param


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.store("sqlite")`: a test about one store runs on that one only."""
    keep, drop = [], []
    for item in items:
        mark = item.get_closest_marker("store")
        kind = getattr(item, "callspec", None) and item.callspec.params.get("store_kind")
        (drop if mark and kind and kind != mark.args[0] else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
