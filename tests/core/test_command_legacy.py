"""Legacy commands: typed_command -> command_result (docs/protocol.md §4.10)."""

import json

from plexus_core import command_runs as R


def handler(command, params):
    return params


def statuses(texts):
    return [json.loads(t) for t in texts]


def test_legacy_commands():
    b = R.CommandBook(remember=16, max_queued=16)
    b.on_command("set_led", handler, description="toggle", params=[{"name": "on", "type": "bool"}])
    b.on_command("one", handler, concurrency="reject")
    assert b.manifest() is None   # legacy commands are not declared under protocol 1 (they draw invalid_command)
    texts, call = b.receive({"type": "typed_command", "id": "c1", "command": "set_led",
                             "params": {"on": True}}, 0)
    assert statuses(texts) == [{"type": "command_result", "id": "c1", "command": "set_led", "event": "ack"}]
    assert call.params == {"on": True} and call.handler is handler
    assert json.loads(b.done(call, None)) == {"type": "command_result", "id": "c1",
                                               "command": "set_led", "event": "result", "result": {}}
    _, call = b.receive({"type": "typed_command", "id": "c2", "command": "set_led"}, 0)
    assert call.params == {}
    e = json.loads(b.done(call, exc=RuntimeError("relay stuck")))
    assert e["event"] == "error" and e["error"] == "relay stuck"
    texts, call = b.receive({"type": "typed_command", "id": "c3", "command": "nope"}, 0)
    acks = statuses(texts)
    assert call is None and acks[0]["event"] == "ack"
    assert acks[1] == {"type": "command_result", "id": "c3", "command": "nope",
                       "event": "error", "error": "unknown command: nope"}
    _, busy = b.receive({"type": "typed_command", "id": "c4", "command": "one"}, 0)
    texts, none = b.receive({"type": "typed_command", "id": "c5", "command": "one"}, 0)
    assert none is None and json.loads(texts[1])["error"] == "command already in progress: one"
    assert b.receive({"type": "typed_command", "command": "one"}, 0) == ([], None)


def test_unsent_legacy_frames_replay_after_auth():
    b = R.CommandBook(remember=16, max_queued=16)
    b.declare(handler, "move")
    b.on_command("led", handler)
    _, call = b.receive({"type": "typed_command", "id": "c1", "command": "led"}, 0)
    text = b.done(call, 5)
    b.unsent(text)
    assert b.pending() == 1
    _, job = b.receive({"type": "command_run", "run_id": "r", "command": "move"}, 0)
    b.unsent(b.done(job, 1))  # a v1 status is queued already: not held twice
    out = b.after_auth()
    assert json.loads(out[0])["type"] == "command_sync"
    assert out[-1] == text and len(out) == 4
    assert b.after_auth()[-1] != text   # held frames go out once
