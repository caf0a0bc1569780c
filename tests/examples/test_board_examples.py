"""The board examples in firmware/examples/ run inside the real MicroPython
(unix port) against a real local gateway. The board-only modules (network,
machine, esp32) are missing there; the examples' own defensive imports skip
what needs them, exactly as they would on a board without that part."""

import json
import os
import subprocess

import pytest

from exkit import BOARD_EXAMPLES, api, by_metric, plexus_cli, wait_for
from support import mpy

pytest.importorskip("support.gateway")

HEAP = "2M"


def board_env():
    # `from plexus import Plexus` finds the board package, as mip installs it
    return {"MICROPYPATH": ":".join([mpy.CORE, os.path.join(mpy.CORE, "board")])}


def config(tmp_path, gateway, source_id, **extra):
    """The /plexus_config.json that `plexus deploy` writes, plus the examples' bounds."""
    cfg = {"wifi_ssid": "bench-net", "wifi_password": "not-used-on-unix", "api_key": gateway.key,
           "source_id": source_id, "gateway_url": gateway.url, "store": str(tmp_path / "flash" / source_id)}
    cfg.update(extra)
    path = tmp_path / ("%s.json" % source_id)
    path.write_text(json.dumps(cfg))
    return str(path)


def run_board(example, cfg_path, timeout=180):
    r = mpy.run([os.path.join(BOARD_EXAMPLES, example), cfg_path], heap=HEAP, env=board_env(), timeout=timeout)
    assert r.returncode == 0, "%s failed:\n%s%s" % (example, r.stdout, r.stderr)
    return r.stdout


@pytest.mark.parametrize("example", ["picow_sensors.py", "esp32_sensors.py"])
def test_sensor_loops(gateway, tmp_path, example):
    src = "mpy-" + example.split("_")[0]
    out = run_board(example, config(tmp_path, gateway, src, interval_s=0.05, max_readings=4))
    assert "all delivered" in out, out
    values = [p["value"] for p in by_metric(gateway.points(src), "mem.free_bytes")]
    assert len(values) == 4 and all(v > 0 for v in values)
    assert gateway.key not in out


def test_deep_sleep_keeps_readings_on_flash_between_syncs(gateway, tmp_path):
    cfg = config(tmp_path, gateway, "mpy-sleeper", deep_sleep_s=0.01, max_readings=7)
    out = run_board("deep_sleep.py", cfg)
    lines = [ln for ln in out.splitlines() if ln.startswith(("wake:", "sync:"))]
    assert [ln.split()[1] for ln in lines] == ["1", "2", "3", "1", "2", "3", "1"], out
    assert lines[2].startswith("sync: 3 readings delivered") and lines[5].startswith("sync: 3 readings delivered")
    assert gateway.count("mpy-sleeper") == 6  # the 7th waits on flash for the next sync
    # the next boot (a new process, the same flash): two more wakes reach the sync
    out = run_board("deep_sleep.py", config(tmp_path, gateway, "mpy-sleeper", deep_sleep_s=0.01, max_readings=2))
    assert "sync: 3 readings delivered" in out, out
    assert gateway.count("mpy-sleeper") == 9


def _declared(gateway, source_id):
    try:
        src = api(gateway, "/v1/sources/" + source_id)
    except Exception:
        return set()
    return {c["name"] for c in src.get("commands", [])} if src.get("online") else set()


def test_commands_on_a_board(gateway, tmp_path):
    cfg = config(tmp_path, gateway, "mpy-relay", max_seconds=120)
    proc = subprocess.Popen([mpy.micropython(), "-X", "heapsize=" + HEAP, os.path.join(BOARD_EXAMPLES, "commands.py"),
                             cfg], env=dict(os.environ, **board_env()), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()
        if "ready" not in first:
            raise AssertionError(first + proc.communicate(timeout=30)[0])
        wait_for(lambda: _declared(gateway, "mpy-relay") >= {"set_relay", "blink"}, 60, "the board's commands")
        r = plexus_cli(["command", "mpy-relay", "set_relay", "--param", "on=true", "--wait", "--json"],
                       gateway, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["result"] == {"on": True}
        r = plexus_cli(["command", "mpy-relay", "blink", "--param", "times=2", "--wait", "--json"], gateway, tmp_path)
        assert r.returncode == 0 and json.loads(r.stdout)["result"] == {"blinked": 2}, r.stdout + r.stderr
        wait_for(lambda: by_metric(gateway.points("mpy-relay"), "relay.on"), 60, "the relay reading")
    finally:
        proc.kill()
        proc.wait(30)
    assert [p["value"] for p in by_metric(gateway.points("mpy-relay"), "relay.on")] == [1]
