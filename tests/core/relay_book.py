"""Shared by the relay tests: a CommandBook whose gateway relays only
typed_command (runs on CPython and inside MicroPython)."""

import gc
import json

import plexus_core.command_decl  # noqa: F401  (first: the 64K heap is least full now)
import plexus_core.command_legacy  # noqa: F401

gc.collect()  # compiling command_runs next needs the largest free block there is
from plexus_core import command_runs as R  # noqa: E402


def handler(command, params):
    return params


def statuses(texts):
    return [json.loads(t) for t in texts]


def relay_book(protocol=0):
    """A device whose gateway relays only typed_command (no `protocol: 1`)."""
    b = R.CommandBook(remember=16, max_queued=16)
    b.declare(v1_handler, "move", params={"steps": {"type": "integer", "minimum": 1},
                                          "fast": {"type": "boolean", "default": False}})
    b.declare(v1_handler, "aim", params={"source_id": {"type": "string", "maxLength": 8}})
    b.declare(v1_handler, "solo", concurrency="reject")
    b.after_auth(None, True, protocol)
    return b


def v1_handler(run, **kw):
    return kw


def typed(cid, command, params=None):
    f = {"type": "typed_command", "id": cid, "command": command}
    if params is not None:
        f["params"] = params
    return f
