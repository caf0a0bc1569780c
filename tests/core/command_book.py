"""Shared by the command-run tests: a CommandBook with two declarations and
the frames they receive (runs on CPython and inside MicroPython)."""

import json

from plexus_core import command_runs as R


def handler(run, **kw):
    return kw


def book(**kw):
    b = R.CommandBook(**dict({"remember": 32, "max_queued": 32}, **kw))
    b.declare(handler, "move", params={"steps": {"type": "integer", "minimum": 1}})
    b.declare(handler, "solo", concurrency="reject", expires_in_s=10)
    return b


def run_frame(rid, command="move", params=None, ttl_ms=5000, attempt=1):
    f = {"type": "command_run", "run_id": rid, "command": command, "attempt": attempt}
    if params is not None:
        f["params"] = params
    if ttl_ms is not None:
        f["ttl_ms"] = ttl_ms
    return f


def statuses(texts):
    return [json.loads(t) for t in texts]
