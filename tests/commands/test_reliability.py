"""Runs survive dropped connections: never run twice, statuses never lost."""

import threading

import pytest

from cmdutil import Api, device, wait_for

pytest.importorskip("support.gateway")


def test_redelivered_run_is_re_reported_and_never_re_run(gateway):
    api = Api(gateway)
    px = device(gateway)
    calls = []
    release = threading.Event()
    try:
        @px.command(idempotent=True, expires_in=120)
        def home_axis(run):
            calls.append(run.attempt)
            release.wait(120)
            return {"homed": True}

        wait_for(lambda: px.connected and api.declared("rig-1") == ["home_axis"], 60, "declared")
        rid = api.start("rig-1", "home_axis")
        api.wait_run("rig-1", rid, ("running",))
        gateway.kill()                       # a crash: no goodbye
        wait_for(lambda: not px.connected, 60, "the device to notice")
        gateway.start()                      # same port, same database
        # The gateway redelivers the idempotent run; the device re-reports it.
        wait_for(lambda: api.run("rig-1", rid)["attempt"] >= 2, 60, "the redelivery")
        wait_for(lambda: api.run("rig-1", rid)["seq"] >= 3, 60, "the re-report")
        assert api.run("rig-1", rid)["state"] == "running"
        release.set()
        run = api.wait_run("rig-1", rid)
        assert run["state"] == "succeeded" and run["result"] == {"homed": True}
        assert calls == [1]                  # the handler ran once
    finally:
        release.set()
        px.close()


def test_statuses_written_while_disconnected_arrive_after_reconnect(gateway):
    api = Api(gateway)
    px = device(gateway)
    release = threading.Event()
    finished = threading.Event()
    try:
        @px.command(expires_in=120)
        def flash(run):
            release.wait(120)
            try:
                return {"bytes": 4096}
            finally:
                finished.set()

        wait_for(lambda: px.connected and api.declared("rig-1") == ["flash"], 60, "declared")
        rid = api.start("rig-1", "flash")
        api.wait_run("rig-1", rid, ("running",))
        gateway.stop()                       # goodbye; the device is offline
        wait_for(lambda: not px.connected, 60, "the device to notice")
        release.set()
        assert finished.wait(60)
        wait_for(lambda: px._commands.unacknowledged >= 1, 30, "the final status to be queued")
        assert not px.connected              # it was written while disconnected
        gateway.start()
        run = api.wait_run("rig-1", rid)
        assert run["state"] == "succeeded" and run["result"] == {"bytes": 4096}, run
        assert [s["state"] for s in run["statuses"]][-1] == "succeeded"
        wait_for(lambda: px._commands.unacknowledged == 0, 60, "the replay to be acknowledged")
    finally:
        release.set()
        px.close()


def test_legacy_result_written_while_disconnected_arrives_after_reconnect(gateway):
    api = Api(gateway)
    px = device(gateway)
    release = threading.Event()
    finished = threading.Event()
    try:
        def slow(command, params):
            release.wait(120)
            finished.set()
            return {"done": params["n"]}

        px.on_command("slow", slow)
        wait_for(lambda: px.connected, 60, "the device to connect")
        status, body = api.send_legacy("rig-1", "slow", {"n": 7})
        assert status == 200
        wait_for(lambda: api.legacy_events("rig-1", body["id"]) == ["ack"], 60, "the ack")
        gateway.stop()
        wait_for(lambda: not px.connected, 60, "the device to notice")
        release.set()
        assert finished.wait(60)
        wait_for(lambda: px._commands.unacknowledged >= 1, 30, "the result to be held")
        assert not px.connected
        gateway.start()
        wait_for(lambda: api.legacy_events("rig-1", body["id"]) == ["ack", "result"], 60,
                 "the held result after reconnect")
        _, cmd = api.get("rig-1", "/commands/" + body["id"])
        assert cmd["events"][1]["result"] == {"done": 7}
    finally:
        release.set()
        px.close()
