"""Commands on a board: handlers run inline, frames as DeviceSession hands them over.

(The session and legacy commands are left out so the test fits a 64K heap
from source; test_session and test_command_legacy cover them.)
"""

import json

import plexus_core.command_decl  # noqa: F401  (first: the 64K heap is least full now)
import plexus_core.command_runs  # noqa: F401  (next: the largest module plexus_board.commands needs)
from plexus_board.commands import BoardCommands


class Wire:
    """Frames the board wrote; `up` False is a dropped link."""

    def __init__(self):
        self.frames = []
        self.up = True

    def write(self, text):
        if self.up:
            self.frames.append(json.loads(text))
        return self.up

    def take(self):
        out, self.frames = self.frames, []
        return out


def setup():
    t = [1000]
    cmds = BoardCommands(lambda: t[0], remember=16, max_queued=16)
    calls = []

    @cmds.command(params={"pin": {"type": "integer", "minimum": 0, "maximum": 39}}, idempotent=True)
    def blink(run, pin):
        calls.append((run.id, run.attempt, pin))
        run.progress(100)
        return {"pin": pin, "left_s": run.time_remaining}

    @cmds.command
    def crash(run):
        raise OSError(5)

    s = Session()
    assert cmds.changed
    s.commands = cmds.manifest()
    assert not cmds.changed
    return t, cmds, calls, s


class Session:
    """What BoardCommands reads from a DeviceSession after auth."""
    max_frame_bytes = 900000
    store_results = True
    protocol = 1
    commands = None


def connect(s, cmds, wire):
    cmds.authenticated(s, wire.write)
    return {"commands": s.commands}


def deliver(s, cmds, wire, frame):
    cmds.frame(json.loads(json.dumps(frame)), wire.write)
    return wire.take()


def run_frame(rid, command="blink", params=None, attempt=1):
    return {"type": "command_run", "run_id": rid, "command": command,
            "params": {"pin": "2"} if params is None else params, "ttl_ms": 5000, "attempt": attempt}


def test_manifest_in_device_auth_and_a_round_trip():
    t, cmds, calls, s = setup()
    wire = Wire()
    auth = connect(s, cmds, wire)
    assert sorted(e["name"] for e in auth["commands"]) == ["blink", "crash"]
    assert wire.take() == []   # nothing to sync yet
    out = deliver(s, cmds, wire, run_frame("r1"))
    assert [f["state"] for f in out] == ["acknowledged", "running", "progress", "succeeded"]
    assert [f["seq"] for f in out] == [1, 2, 3, 4]
    assert out[-1]["result"] == {"pin": 2, "left_s": 5.0} and calls == [("r1", 1, 2)]
    out = deliver(s, cmds, wire, run_frame("r2", "crash", {}))
    assert out[-1]["error_code"] == "handler_error" and out[-1]["error_message"].startswith("OSError")
    out = deliver(s, cmds, wire, run_frame("r3", params={"pin": 99}))
    assert out == [{"type": "command_status", "run_id": "r3", "seq": 1, "state": "failed",
                    "error_code": "bad_params", "error_message": out[0]["error_message"]}]


def test_offline_statuses_replay_and_redelivery_never_reruns():
    t, cmds, calls, s = setup()
    wire = Wire()
    connect(s, cmds, wire)
    wire.up = False                  # the link drops while the run is handled
    deliver(s, cmds, wire, run_frame("r1"))
    assert calls == [("r1", 1, 2)] and cmds.book.unacked() == 3
    wire.up = True
    connect(s, cmds, wire)
    out = wire.take()
    assert out[0] == {"type": "command_sync", "runs": [{"run_id": "r1", "state": "succeeded", "seq": 4}]}
    assert [f["state"] for f in out[1:]] == ["acknowledged", "running", "succeeded"]
    for f in out[1:]:
        deliver(s, cmds, wire, {"type": "command_status_ack", "run_id": "r1", "seq": f["seq"]})
    assert cmds.book.unacked() == 0
    out = deliver(s, cmds, wire, run_frame("r1", attempt=2))
    assert [f["state"] for f in out] == ["succeeded"] and out[0]["seq"] == 4
    assert calls == [("r1", 1, 2)]    # re-reported, never re-run
