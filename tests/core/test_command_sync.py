"""Redelivered runs, the id ring, the status queue, command_sync and the frame cap."""

import json

from check import raises
from command_book import book, run_frame, statuses
from plexus_core import command_runs as R


def test_redelivered_run_is_reported_never_rerun():
    b = book()
    _, job = b.receive(run_frame("r1", params={"steps": 1}), 0)
    b.started(job)
    texts, again = b.receive(run_frame("r1", params={"steps": 1}, attempt=2), 0)
    (s,) = statuses(texts)
    assert again is None and s["state"] == "running" and s["seq"] == 3
    final = b.done(job, 1)
    texts, again = b.receive(run_frame("r1", params={"steps": 1}, attempt=3), 0)
    assert again is None and texts == [final]   # unacked: the final status as it was
    b.receive({"type": "command_status_ack", "run_id": "r1", "seq": 4}, 0)
    assert b.unacked() == 0
    texts, again = b.receive(run_frame("r1", params={"steps": 1}, attempt=4), 0)
    # acknowledged already: the final state again, without the result (not kept)
    assert again is None and json.loads(texts[0]) == {"type": "command_status", "run_id": "r1",
                                                      "seq": 4, "state": "succeeded"}
    assert b.unacked() == 1                      # and queued again until acked
    texts, _ = b.receive(run_frame("bad", "nope"), 0)
    assert b.receive(run_frame("bad", "nope"), 0) == (texts, None)


def test_ring_forgets_the_oldest_id():
    b = book(remember=4)
    for i in range(5):
        b.receive(run_frame("x%d" % i, "nope"), 0)
    assert b.receive(run_frame("x4", "nope"), 0)[0][0].count('"seq":1') == 1
    texts, _ = b.receive(run_frame("x0", "nope"), 0)   # forgotten: handled as new
    assert json.loads(texts[0])["seq"] == 1


def test_acks_queue_and_sync():
    assert R.CommandBook(remember=4, max_queued=4).after_auth() == []
    b = book(max_queued=5)
    _, j1 = b.receive(run_frame("a", params={"steps": 1}), 0)
    b.started(j1)
    _, j2 = b.receive(run_frame("b", params={"steps": 1}), 0)
    assert b.unacked() == 3
    b.receive({"type": "command_status_ack", "run_id": "a", "seq": 1}, 0)
    assert b.unacked() == 2
    b.receive({"type": "command_status_ack", "run_id": "a", "seq": "2"}, 0)  # ignored
    assert b.unacked() == 2
    out = b.after_auth(None, True)
    sync = json.loads(out[0])
    assert sync == {"type": "command_sync", "runs": [{"run_id": "a", "state": "running", "seq": 2},
                                                     {"run_id": "b", "state": "acknowledged", "seq": 1}]}
    assert [json.loads(t)["run_id"] for t in out[1:]] == ["a", "b"]
    for i in range(6):
        b.receive(run_frame("n%d" % i, "nope"), 0)
    assert b.unacked() == 5 and b.dropped_statuses == 3      # oldest dropped


def test_frame_cap_and_store_results():
    b = book()
    b.after_auth(400, True)
    assert b.max_frame_bytes == 400
    _, job = b.receive(run_frame("big", params={"steps": 1}), 0)
    s = json.loads(b.done(job, {"blob": "x" * 500}))
    assert s["state"] == "succeeded" and "result" not in s
    _, job = b.receive(run_frame("big2", params={"steps": 1}), 0)
    s = json.loads(b.done(job, exc=ValueError("y" * 500)))
    assert s["error_code"] == "handler_error" and "error_message" not in s
    b.after_auth(10 ** 6, False)
    assert b.max_frame_bytes == 65536
    _, job = b.receive(run_frame("quiet", params={"steps": 1}), 0)
    s = json.loads(b.done(job, {"a": 1}))
    assert "result" not in s and s["state"] == "succeeded"


def test_progress_checks():
    b = book()
    _, job = b.receive(run_frame("p", params={"steps": 1}), 0)
    for bad in (-1, 101, True, "50", float("nan")):
        raises(ValueError, b.progress, job, bad)
    b.done(job)
    assert b.progress(job, 100) is None   # after the end: nothing
