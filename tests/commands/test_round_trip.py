"""Commands through a real gateway process: operator -> gateway -> device -> back."""

import threading

import pytest

from cmdutil import Api, device, wait_for

pytest.importorskip("support.gateway")


@pytest.fixture
def api(gateway):
    return Api(gateway)


@pytest.fixture
def px(gateway):
    c = device(gateway)
    yield c
    c.close()


def ready(api, px, *names):
    wait_for(lambda: px.connected and all(n in api.declared("rig-1") for n in names), 60,
             "the gateway to list %s" % ", ".join(names))


def test_v1_run_succeeds_with_coerced_params_and_progress(api, px):
    calls = []

    @px.command(params={"valve": {"type": "integer", "minimum": 1, "maximum": 4},
                        "note": {"type": "string", "maxLength": 40, "required": False}},
                danger="dangerous", expires_in=15, title="Open valve")
    def open_valve(run, valve, note=None):
        calls.append((run.id, run.attempt, valve, note))
        assert 0 < run.time_remaining <= 15
        run.progress(100, "open")
        return {"opened": valve}

    ready(api, px, "open_valve")
    rid = api.start("rig-1", "open_valve", {"valve": "2"})
    run = api.wait_run("rig-1", rid)
    assert run["state"] == "succeeded" and run["result"] == {"opened": 2}, run
    assert calls == [(rid, 1, 2, None)]
    states = [s["state"] for s in run["statuses"]]
    assert states == ["acknowledged", "running", "progress", "succeeded"], run["statuses"]
    assert [s["seq"] for s in run["statuses"]] == [1, 2, 3, 4]
    assert run["statuses"][2]["progress"] == 100.0 and run["statuses"][2]["message"] == "open"
    wait_for(lambda: px._commands.unacknowledged == 0, 30, "every status acknowledged")


def test_documented_error_codes(api, px):
    release = threading.Event()

    @px.command(params={"n": {"type": "integer", "minimum": 1}})
    def step(run, n):
        return n

    @px.command(concurrency="reject")
    def calibrate(run):
        release.wait(60)

    @px.command
    def explode(run):
        raise RuntimeError("relay stuck")

    ready(api, px, "step", "calibrate", "explode")
    codes = {}
    codes["unknown"] = api.wait_run("rig-1", api.start("rig-1", "no_such_thing"))
    codes["bad"] = api.wait_run("rig-1", api.start("rig-1", "step", {"n": "zero"}))
    codes["unknown_key"] = api.wait_run("rig-1", api.start("rig-1", "step", {"n": 1, "x": 2}))
    codes["expired"] = api.wait_run("rig-1", api.start("rig-1", "step", {"n": 1}, ttl_s=0.0001))
    first = api.start("rig-1", "calibrate")
    api.wait_run("rig-1", first, ("running",))
    codes["busy"] = api.wait_run("rig-1", api.start("rig-1", "calibrate"))
    codes["raised"] = api.wait_run("rig-1", api.start("rig-1", "explode"))
    want = {"unknown": "unknown_command", "bad": "bad_params", "unknown_key": "bad_params",
            "expired": "expired_on_arrival", "busy": "busy", "raised": "handler_error"}
    for k, code in want.items():
        assert codes[k]["state"] == "failed" and codes[k]["error_code"] == code, (k, codes[k])
    assert codes["raised"]["error_message"] == "RuntimeError: relay stuck"
    release.set()
    assert api.wait_run("rig-1", first)["state"] == "succeeded"
    # the client lives on after a handler raised
    assert api.wait_run("rig-1", api.start("rig-1", "step", {"n": 3}))["result"] == {"value": 3}


def test_legacy_command_ack_then_result(api, px):
    got = []

    def set_led(command, params):
        got.append((command, params))
        return {"on": params["on"]}

    px.on_command("set_led", set_led, description="toggle the LED")
    px.on_command("fail", lambda c, p: 1 / 0)
    wait_for(lambda: px.connected, 60, "the device to connect")
    status, body = api.send_legacy("rig-1", "set_led", {"on": True})
    assert status == 200 and body["queued"] is True
    wait_for(lambda: api.legacy_events("rig-1", body["id"]) == ["ack", "result"], 60, "ack and result")
    _, cmd = api.get("rig-1", "/commands/" + body["id"])
    assert cmd["events"][1]["result"] == {"on": True} and got == [("set_led", {"on": True})]
    _, bad = api.send_legacy("rig-1", "nope")
    wait_for(lambda: api.legacy_events("rig-1", bad["id"]) == ["ack", "error"], 60, "unknown -> error")
    _, cmd = api.get("rig-1", "/commands/" + bad["id"])
    assert cmd["events"][1]["error"] == "unknown command: nope"
    _, boom = api.send_legacy("rig-1", "fail")
    wait_for(lambda: api.legacy_events("rig-1", boom["id"]) == ["ack", "error"], 60, "raise -> error")


def test_key_without_commands_scope_cannot_send(gateway, px):
    px.on_command("set_led", lambda c, p: None)

    @px.command
    def reboot(run):
        return None

    wait_for(lambda: px.connected, 60, "the device to connect")
    reader = Api(gateway, gateway.create_key(name="reader", scopes="read"))
    for rest, body in (("/commands", {"command": "set_led"}), ("/runs", {"command": "reboot"})):
        status, data = reader.post("rig-1", rest, body)
        assert status == 403, (rest, status, data)


def test_legacy_command_to_an_offline_device_is_not_queued(api, gateway):
    status, body = api.send_legacy("nobody-here", "set_led")
    assert (status, body) == (200, {"queued": False})


def test_declarations_made_while_connecting_are_all_declared(api, gateway):
    px = device(gateway, "rig-2")
    try:
        names = ["cmd_%d" % i for i in range(12)]

        def declare(name):
            px.command(name)(lambda run: name)
        threads = [threading.Thread(target=declare, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait_for(lambda: api.declared("rig-2") == sorted(names), 60, "all 12 commands declared")
        rid = api.start("rig-2", "cmd_11")
        assert api.wait_run("rig-2", rid)["result"] == {"value": "cmd_11"}
    finally:
        px.close()
