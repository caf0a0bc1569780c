"""`plexus command` against a real gateway and a real device."""

import json
import os
import subprocess
import sys
import threading

import pytest

from cmdutil import Api, device, wait_for
from plexus import cli

pytest.importorskip("support.gateway")


@pytest.fixture
def env(gateway, monkeypatch):
    monkeypatch.setenv("PLEXUS_API_KEY", gateway.key)
    monkeypatch.setenv("PLEXUS_GATEWAY_URL", gateway.url)
    return gateway


@pytest.fixture
def px(gateway):
    c = device(gateway)
    api = Api(gateway)
    release = threading.Event()

    @c.command(params={"valve": {"type": "integer", "minimum": 1, "maximum": 4}})
    def open_valve(run, valve):
        run.progress(100, "open")
        return {"opened": valve}

    @c.command
    def hold(run):
        release.wait(60)

    c.on_command("set_led", lambda command, params: {"on": params.get("on")})
    c.on_command("jam", lambda command, params: 1 / 0)
    wait_for(lambda: c.connected and api.declared("rig-1") == ["hold", "open_valve"], 60, "declared")
    yield c
    release.set()
    c.close()


def run_cli(capsys, *argv):
    code = cli.main(["command"] + list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_v1_run_waits_for_the_outcome(env, px, capsys):
    code, out, err = run_cli(capsys, "rig-1", "open_valve", "--param", "valve=3", "--wait")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[:2] == ["acknowledged", "running"] and lines[2] == "progress 100% open"
    assert lines[-1] == 'succeeded: {"opened":3}'


def test_v1_json_and_failures(env, px, capsys):
    code, out, _ = run_cli(capsys, "rig-1", "open_valve", "--param", "valve=9", "--wait", "--json")
    run = json.loads(out)
    assert code == 1 and run["state"] == "failed" and run["error_code"] == "bad_params"
    code, out, _ = run_cli(capsys, "rig-1", "open_valve", "--param", "valve=1", "--json")
    assert code == 0 and json.loads(out)["run_id"]
    code, out, err = run_cli(capsys, "rig-1", "hold", "--wait", "--wait-timeout", "0.5")
    assert code == 1 and "no outcome within" in err


def test_legacy_command_with_typed_values(env, px, capsys):
    code, out, err = run_cli(capsys, "rig-1", "set_led", "--param", "on=true", "--wait")
    assert code == 0, err
    assert out.strip() == 'result: {"on":true}'
    code, out, err = run_cli(capsys, "rig-1", "jam", "--wait")
    assert code == 1 and "jam failed: division by zero" in err
    code, out, err = run_cli(capsys, "rig-1", "nope", "--wait", "--json")
    events = json.loads(out)["events"]
    assert code == 1 and events[-1]["error"] == "unknown command: nope"


def test_offline_device_and_bad_usage(env, capsys):
    code, _, err = run_cli(capsys, "nobody", "set_led")
    assert code == 1 and "not connected" in err
    code, _, err = run_cli(capsys, "nobody", "set_led", "--param", "novalue")
    assert code == 2 and "name=value" in err


def test_key_without_commands_scope_exits_3(env, px, capsys, monkeypatch):
    monkeypatch.setenv("PLEXUS_API_KEY", env.create_key(name="reader", scopes="read"))
    for name in ("set_led", "open_valve"):
        code, _, err = run_cli(capsys, "rig-1", name, "--param", "valve=1")
        assert code == 3 and "commands" in err and "plx_" not in err, err


def test_real_command_line(env, px, tmp_path):
    e = dict(os.environ, PLEXUS_API_KEY=env.key, PLEXUS_GATEWAY_URL=env.url)
    r = subprocess.run([sys.executable, "-m", "plexus.cli", "command", "rig-1", "open_valve",
                        "--param", "valve=2", "--wait", "--json"], capture_output=True, text=True,
                       env=e, cwd=str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"] == {"opened": 2}
