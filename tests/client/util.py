"""Helpers for client tests: wait on a condition, never on a fixed sleep."""

from support.waiting import wait_for  # noqa: F401  (re-exported for the client tests)


def values(points, metric=None):
    return [p["value"] for p in points if metric is None or p["metric"] == metric]
