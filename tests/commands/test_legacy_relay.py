"""@px.command handlers through a typed_command, against a real gateway
process: the hosted-2026-08 profile relays only typed_command (with its own
source_id param), so v1 handlers answer there with command_result; a gateway
that speaks commands v1 says to start a run instead."""

import threading

import pytest

from cmdutil import Api, device, wait_for

pytest.importorskip("support.gateway")


def answer(api, cid, timeout=60):
    """The command's events once it has ended (ack, then result or error)."""
    def ended():
        status, data = api.get("rig-1", "/commands/" + cid)
        events = (data or {}).get("events") or [] if status == 200 else []
        return events if len(events) >= 2 else None
    return wait_for(ended, timeout, "command %s to end" % cid)


def send(api, command, params=None):
    status, body = api.send_legacy("rig-1", command, params)
    assert status == 200 and body["queued"] is True, (status, body)
    return body["id"]


def test_v1_handlers_answer_through_a_typed_command_only_relay(hosted_gateway):
    api = Api(hosted_gateway)
    px = device(hosted_gateway)
    calls = []
    busy = threading.Event()
    release = threading.Event()
    try:
        @px.command(params={"valve": {"type": "integer", "minimum": 1, "maximum": 4},
                            "note": {"type": "string", "maxLength": 40, "required": False}},
                    danger="dangerous", expires_in=15)
        def open_valve(run, valve, note=None):
            calls.append((run.id, run.attempt, valve, note))
            assert 0 < run.time_remaining <= 15
            assert run.progress(50, "half way") is False   # that relay has no progress frame
            return {"opened": valve}

        @px.command(params={"source_id": {"type": "string"}})
        def whoami(run, source_id):
            return {"target": source_id}

        @px.command(concurrency="reject")
        def calibrate(run):
            busy.set()
            release.wait(60)

        @px.command
        def explode(run):
            raise RuntimeError("relay stuck")

        wait_for(lambda: px.connected, 60, "the device to connect")
        cid = send(api, "open_valve", {"valve": "2"})
        ack, result = answer(api, cid)
        assert ack["event"] == "ack" and result["event"] == "result", (ack, result)
        assert result["result"] == {"opened": 2} and calls == [(cid, 1, 2, None)]
        _, cmd = api.get("rig-1", "/commands/" + cid)
        assert cmd["params"]["source_id"] == "rig-1"          # the relay did add its param

        errors = {"bad": send(api, "open_valve", {"valve": 9}),
                  "unknown_key": send(api, "open_valve", {"valve": 1, "speed": 3}),
                  "raised": send(api, "explode"),
                  "unknown": send(api, "no_such_thing")}
        got = {k: answer(api, c)[1] for k, c in errors.items()}
        assert all(e["event"] == "error" for e in got.values()), got
        assert got["bad"]["error"] == "bad params: param 'valve' is 9, above the maximum 4"
        assert got["unknown_key"]["error"].startswith("bad params: unknown param 'speed'")
        assert got["raised"]["error"] == "RuntimeError: relay stuck"
        assert got["unknown"]["error"] == "unknown command: no_such_thing"
        assert len(calls) == 1

        assert answer(api, send(api, "whoami"))[1]["result"] == {"target": "rig-1"}

        first = send(api, "calibrate")
        assert busy.wait(60)
        second = answer(api, send(api, "calibrate"))[1]
        assert second["error"] == "command already in progress: calibrate", second
        release.set()
        assert answer(api, first)[1] == {"type": "command_result", "id": first, "command": "calibrate",
                                         "event": "result", "result": {}}
        assert px._commands.unacknowledged == 0   # nothing v1 waits for an ack that never comes
    finally:
        release.set()
        px.close()


def test_a_v1_gateway_gets_told_to_start_a_run_for_a_v1_command(gateway):
    api = Api(gateway)
    px = device(gateway)
    calls = []
    try:
        @px.command(params={"valve": {"type": "integer", "minimum": 1, "maximum": 4}})
        def open_valve(run, valve):
            calls.append(valve)

        wait_for(lambda: px.connected and "open_valve" in api.declared("rig-1"), 60, "open_valve declared")
        ack, err = answer(api, send(api, "open_valve", {"valve": 2}))
        assert err["event"] == "error" and "start it as a run" in err["error"] and calls == []
        run = api.wait_run("rig-1", api.start("rig-1", "open_valve", {"valve": 2}))
        assert run["state"] == "succeeded" and calls == [2]
    finally:
        px.close()
