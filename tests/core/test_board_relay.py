"""A board reaches its @px.command handlers through a gateway that relays
only typed_command: run inline from poll(), answered with command_result.
(Its own module so it fits a 64K heap from source.)"""

import gc
import json

import plexus_core.command_decl  # noqa: F401  (first: the 64K heap is least full now)
import plexus_core.command_legacy  # noqa: F401

gc.collect()  # compiling command_runs next needs the largest free block there is
import plexus_core.command_runs  # noqa: E402,F401  (before the board module that imports it)
from plexus_board.commands import BoardCommands  # noqa: E402


def typed(cid, command, params=None):
    return {"type": "typed_command", "id": cid, "command": command, "params": params}


class RelaySession:
    """What BoardCommands reads from a DeviceSession authenticated by a
    gateway that did not say `protocol: 1`."""
    max_frame_bytes = 900000
    store_results = True
    protocol = 0


def test_a_board_runs_a_relayed_v1_command_inline():
    cmds = BoardCommands(lambda: 5000, remember=8, max_queued=8)
    calls = []

    @cmds.command(params={"pin": {"type": "integer", "minimum": 0, "maximum": 39}}, expires_in=10)
    def blink(run, pin):
        calls.append((run.id, run.attempt, pin, run.time_remaining))
        assert run.progress(50, "half way") is False   # no progress frame on this path
        return {"pin": pin}

    sent = []
    up = [True]

    def write(text):
        if up[0]:
            sent.append(json.loads(text))
        return up[0]
    cmds.authenticated(RelaySession(), write)
    cmds.frame(typed("c1", "blink", {"pin": "5", "source_id": "rig-1"}), write)
    assert calls == [("c1", 1, 5, 10.0)]
    assert [(f["event"], f.get("result")) for f in sent] == [("ack", None), ("result", {"pin": 5})]
    del sent[:]
    cmds.frame(typed("c2", "blink", {"pin": 40}), write)
    assert len(calls) == 1 and sent[1]["error"] == "bad params: param 'pin' is 40, above the maximum 39"
    # a result the link could not take goes out after the next auth
    up[0] = False
    cmds.frame(typed("c3", "blink", {"pin": 7}), write)
    up[0] = True
    del sent[:]
    cmds.authenticated(RelaySession(), write)
    assert [(f["id"], f["event"]) for f in sent] == [("c3", "ack"), ("c3", "result")]
