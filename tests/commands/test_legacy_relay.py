"""@px.command handlers through a typed_command, against a real gateway
process: a gateway that speaks commands v1 says to start a run instead."""

import pytest

from cmdutil import Api, device, wait_for

pytest.importorskip("support.gateway")


def test_a_v1_gateway_gets_told_to_start_a_run_for_a_v1_command(gateway):
    api = Api(gateway)
    px = device(gateway)
    calls = []
    try:
        @px.command(params={"valve": {"type": "integer", "minimum": 1, "maximum": 4}})
        def open_valve(run, valve):
            calls.append(valve)

        wait_for(lambda: px.connected and "open_valve" in api.declared("rig-1"), 60, "open_valve declared")
        status, body = api.send_legacy("rig-1", "open_valve", {"valve": 2})
        assert status == 200 and body["queued"] is True
        wait_for(lambda: api.legacy_events("rig-1", body["id"]) == ["ack", "error"], 60, "ack and error")
        _, cmd = api.get("rig-1", "/commands/" + body["id"])
        assert "start it as a run" in cmd["events"][1]["error"] and calls == []
        run = api.wait_run("rig-1", api.start("rig-1", "open_valve", {"valve": 2}))
        assert run["state"] == "succeeded" and calls == [2]
    finally:
        px.close()
