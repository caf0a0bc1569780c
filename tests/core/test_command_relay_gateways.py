"""Which gateway gets what: a v1 command sent as typed_command runs only
when the gateway relays nothing else; concurrency and legacy handlers."""

import json

from relay_book import handler, relay_book, statuses, typed


def test_a_relayed_reject_command_is_answered_in_progress_while_one_runs():
    b = relay_book()
    _, first = b.receive(typed("s1", "solo"), 0)
    texts, none = b.receive(typed("s2", "solo"), 0)
    assert none is None and json.loads(texts[1])["error"] == "command already in progress: solo"
    b.done(first, None)
    assert b.receive(typed("s3", "solo"), 0)[1] is not None


def test_a_v1_gateway_sends_v1_commands_as_runs_not_typed_command():
    b = relay_book(protocol=1)
    texts, job = b.receive(typed("c1", "move", {"steps": 1}), 0)
    err = json.loads(texts[1])["error"]
    assert job is None and "start it as a run" in err and "move" in err
    texts, job = b.receive(typed("c2", "nope"), 0)
    assert json.loads(texts[1])["error"] == "unknown command: nope"
    b.after_auth(None, True, 0)   # the next gateway relays only typed_command
    assert b.receive(typed("c3", "move", {"steps": 1}), 0)[1] is not None


def test_a_legacy_handler_wins_over_a_v1_declaration_of_the_same_name():
    b = relay_book()
    b.on_command("move", handler)
    _, call = b.receive(typed("c1", "move", {"anything": 1, "source_id": "rig-1"}), 0)
    assert call.params == {"anything": 1, "source_id": "rig-1"} and call.handler is handler
    assert json.loads(b.done(call, 5))["result"] == 5   # legacy results stay as returned



def test_v1_statuses_wait_for_a_gateway_that_takes_them():
    b = relay_book(protocol=1)
    _, job = b.receive({"type": "command_run", "run_id": "r1", "command": "solo", "ttl_ms": 5000}, 0)
    b.done(job, None)
    assert b.unacked() == 2
    assert b.after_auth(None, True, 0) == []        # a typed_command-only gateway: nothing v1 sent
    out = statuses(b.after_auth(None, True, 1))      # the next v1 gateway gets sync and statuses
    assert [f["type"] for f in out] == ["command_sync", "command_status", "command_status"]
