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
