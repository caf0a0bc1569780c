"""@px.command handlers reached through a gateway that relays only
typed_command: params checked as declared, the relay's source_id param
tolerated, answered with command_result (docs/protocol.md, Commands)."""

import json

from relay_book import relay_book, statuses, typed, v1_handler
from plexus_core.commands import Cancelled


def test_v1_commands_over_a_legacy_relay_check_params_as_declared():
    b = relay_book()
    # (params sent, params the handler gets, or None and a piece of the error)
    table = [
        ({"steps": "3"}, {"steps": 3, "fast": False}, None),
        ({"steps": 2, "fast": "true", "source_id": "rig-1"}, {"steps": 2, "fast": True}, None),
        ({"steps": 0}, None, "bad params: param 'steps' is 0, below the minimum 1"),
        ({"fast": True}, None, "'steps' is required"),
        ({"steps": 1, "speed": 9}, None, "unknown param 'speed'"),
        ({"steps": "many"}, None, "'steps' must be a finite integer"),
        ([1], None, "params must be an object"),
    ]
    for i, (params, want, err) in enumerate(table):
        cid = "c%d" % i
        texts, job = b.receive(typed(cid, "move", params), 1000)
        frames = statuses(texts)
        assert frames[0] == {"type": "command_result", "id": cid, "command": "move", "event": "ack"}
        if want is not None:
            assert len(frames) == 1 and job.params == want and job.handler is v1_handler, (params, job)
            assert job.id == cid and job.attempt == 1 and job.remaining_ms(1000) == 30000
            assert b.started(job) is None          # command_result has no "running" frame
            b.done(job, None)
        else:
            assert job is None and len(frames) == 2, (params, frames)
            assert frames[1]["event"] == "error" and err in frames[1]["error"], (params, frames)
    assert b.unacked() == 0 and b.manifest() is not None  # no v1 status was queued


def test_the_relays_source_id_reaches_only_a_handler_that_declares_it():
    b = relay_book()
    _, job = b.receive(typed("a1", "aim", {"source_id": "rig-1"}), 0)
    assert job.params == {"source_id": "rig-1"}
    texts, job = b.receive(typed("a2", "aim", {"source_id": "much-too-long"}), 0)
    assert job is None and json.loads(texts[1])["error"] == (
        "bad params: param 'source_id' is 13 characters; the limit is 8")
    _, job = b.receive(typed("a3", "solo", {"source_id": "rig-1"}), 0)
    assert job.params == {}


def test_a_relayed_run_answers_with_command_result():
    b = relay_book()
    for value, want in ((None, {}), ({"moved": 3}, {"moved": 3}), (7, {"value": 7})):
        _, job = b.receive(typed("r", "move", {"steps": 1}), 0)
        assert b.progress(job, 50, "half", now_ms=0) is None   # harmless: nothing to send
        assert json.loads(b.done(job, value)) == {"type": "command_result", "id": "r", "command": "move",
                                                   "event": "result", "result": want}
    _, job = b.receive(typed("e", "move", {"steps": 1}), 0)
    e = json.loads(b.done(job, exc=RuntimeError("relay stuck")))
    assert e["event"] == "error" and e["error"] == "RuntimeError: relay stuck"
    _, job = b.receive(typed("k", "move", {"steps": 1}), 0)
    assert json.loads(b.done(job, exc=Cancelled()))["error"] == "cancelled"
    assert b.unacked() == 0 and b._active == {}
