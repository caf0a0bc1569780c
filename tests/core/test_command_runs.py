"""Command runs: statuses, errors in their documented order, results (docs/protocol.md §4.11)."""

import json

from command_book import book, handler, run_frame, statuses
from plexus_core import command_runs as R
from plexus_core.commands import Cancelled


def test_manifest_has_v1_only():
    b = book()
    assert [e["name"] for e in b.manifest()] in (["move", "solo"], ["solo", "move"])
    assert R.CommandBook(remember=8, max_queued=8).manifest() is None  # (small rings: this runs in a 64K heap)


def test_run_round_trip():
    b = book()
    texts, job = b.receive(run_frame("r1", params={"steps": "3"}, attempt=2), 1000)
    (ack,) = statuses(texts)
    assert ack == {"type": "command_status", "run_id": "r1", "seq": 1, "state": "acknowledged"}
    assert job.params == {"steps": 3} and job.attempt == 2 and job.handler is handler
    assert job.remaining_ms(1000) == 5000 and job.remaining_ms(7000) == 0
    assert json.loads(b.started(job)) == {"type": "command_status", "run_id": "r1", "seq": 2, "state": "running"}
    p = json.loads(b.progress(job, 50, "half", now_ms=1000))
    assert p["state"] == "progress" and p["seq"] == 3 and p["progress"] == 50.0 and p["message"] == "half"
    assert b.progress(job, 60, now_ms=1500) is None        # at most one a second ...
    assert json.loads(b.progress(job, 100, now_ms=1600))["seq"] == 4   # ... except 100
    done = json.loads(b.done(job, {"moved": 3}))
    assert done == {"type": "command_status", "run_id": "r1", "seq": 5, "state": "succeeded",
                    "result": {"moved": 3}}
    assert b.unacked() == 3                                  # progress is never queued


def test_results_are_normalised():
    b = book()
    for value, want in ((None, {}), (7, {"value": 7}), ([1, 2], {"value": [1, 2]}),
                        ({"a": 1}, {"a": 1}), (float("nan"), None), (b"x", None)):
        _, job = b.receive(run_frame("r%r" % (value,), params={"steps": 1}), 0)
        got = json.loads(b.done(job, value))["result"]
        if want is None:  # not JSON: its repr, cut to 512 characters
            assert list(got) == ["value"] and type(got["value"]) is str
        else:
            assert got == want


def test_errors_in_order():
    b = book()
    assert b.receive({"type": "command_run", "command": "move"}, 0) == ([], None)
    assert b.receive(run_frame(""), 0) == ([], None)
    cases = [(run_frame("a", "nope"), "unknown_command"),
             (run_frame("b", params={"steps": 0}), "bad_params"),
             (run_frame("c", params={"steps": 1, "x": 1}), "bad_params"),
             (run_frame("d", params={"steps": 1}, ttl_ms=0), "expired_on_arrival"),
             (run_frame("e", "nope", ttl_ms=-5), "unknown_command")]   # unknown comes first
    for f, code in cases:
        texts, job = b.receive(f, 0)
        (s,) = statuses(texts)
        assert job is None and s["state"] == "failed" and s["error_code"] == code, (f, s)
        assert s["seq"] == 1 and s["error_message"]


def test_busy_under_reject_only():
    b = book()
    _, first = b.receive(run_frame("s1", "solo", ttl_ms=None), 0)
    assert first.deadline_ms == 10000       # no ttl: the declared expiry
    (s,) = statuses(b.receive(run_frame("s2", "solo"), 0)[0])
    assert s["error_code"] == "busy"
    _, a = b.receive(run_frame("m1", params={"steps": 1}), 0)
    _, c = b.receive(run_frame("m2", params={"steps": 1}), 0)
    assert a is not None and c is not None  # accept runs side by side
    b.done(first, None)
    assert b.receive(run_frame("s3", "solo"), 0)[1] is not None


def test_handler_errors():
    b = book()
    _, job = b.receive(run_frame("h1", params={"steps": 1}), 0)
    s = json.loads(b.done(job, exc=KeyError("k")))
    assert s["state"] == "failed" and s["error_code"] == "handler_error"
    assert s["error_message"].startswith("KeyError: ")
    _, job = b.receive(run_frame("h2", params={"steps": 1}), 0)
    assert json.loads(b.done(job, exc=Cancelled()))["error_code"] == "cancelled"


def test_max_active_bounds_all_handlers():
    b = R.CommandBook(remember=32, max_queued=32, max_active=2)
    b.declare(handler, "move")
    b.on_command("led", handler)
    _, one = b.receive(run_frame("a"), 0)
    texts, two = b.receive({"type": "typed_command", "id": "c", "command": "led"}, 0)
    assert one is not None and two is not None
    (s,) = statuses(b.receive(run_frame("b"), 0)[0])
    assert s["error_code"] == "busy"
    texts, none = b.receive({"type": "typed_command", "id": "d", "command": "led"}, 0)
    assert none is None and json.loads(texts[1])["event"] == "error"
    b.done(two, 1)
    assert b.receive(run_frame("c"), 0)[1] is not None
