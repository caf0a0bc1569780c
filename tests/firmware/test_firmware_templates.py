"""The firmware templates: MicroPython-clean, config template and defaults
agree, the freeze manifest covers the core, and the board helpers (config,
Wi-Fi with backoff, sensors) behave on the real interpreter and on the
emulated board's Wi-Fi stand-in."""

import json
import os
import subprocess
import sys

import pytest

from emulated import mpremote, plexus
from support import mpy

ROOT = mpy.ROOT
FIRMWARE = os.path.join(ROOT, "firmware")
sys.path.insert(0, os.path.join(FIRMWARE, "lib"))

import plexus_device  # noqa: E402


@pytest.mark.parametrize("name", ["boot.py", "main.py", "lib/plexus_device.py", "lib/plexus_app.py"])
def test_templates_compile_for_micropython(name, tmp_path):
    r = subprocess.run([mpy.mpy_cross(), "-o", str(tmp_path / "out.mpy"), os.path.join(FIRMWARE, name)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_config_template_lists_every_setting_with_its_default_type():
    with open(os.path.join(FIRMWARE, "plexus_config.example.json")) as f:
        example = json.load(f)
    assert set(example) == set(plexus_device.DEFAULTS)
    for key, default in plexus_device.DEFAULTS.items():
        if default is not None and key not in ("wifi_ssid", "wifi_password", "api_key", "gateway_url"):
            assert example[key] == default, key


def test_manifest_freezes_every_file_a_board_needs():
    # Evaluate firmware/manifest.py with MicroPython's manifest commands
    # recorded; the build itself needs a MicroPython checkout and a toolchain.
    frozen = []

    def package(name, files=None, base_path=".", opt=None):
        base = os.path.normpath(os.path.join(FIRMWARE, base_path))
        assert os.path.isdir(os.path.join(base, name)), name
        for f in sorted(os.listdir(os.path.join(base, name))):
            if f.endswith(".py"):
                frozen.append(os.path.relpath(os.path.join(base, name, f), ROOT))

    def module(name, base_path=".", opt=None):
        path = os.path.normpath(os.path.join(FIRMWARE, base_path, name))
        assert os.path.isfile(path), path
        frozen.append(os.path.relpath(path, ROOT))

    def include(path):
        assert path.startswith("$(PORT_DIR)/"), "only the port's own manifest is included"

    with open(os.path.join(FIRMWARE, "manifest.py")) as f:
        exec(compile(f.read(), "manifest.py", "exec"), {"package": package, "module": module, "include": include})
    with open(os.path.join(ROOT, "package.json")) as f:
        needed = {src for _, src in json.load(f)["urls"]}
    assert needed <= set(frozen), needed - set(frozen)
    assert {"firmware/lib/plexus_device.py", "firmware/lib/plexus_app.py"} <= set(frozen)


CONFIG_CHECKS = r"""
import json, sys
sys.path[:0] = [CORE, LIB]
import plexus_device as dev
def attempt(cfg):
    with open(PATH, "w") as f:
        f.write(cfg if isinstance(cfg, str) else json.dumps(cfg))
    try:
        c = dev.load_config(PATH)
        print("ok", c["source_id"], c["interval_s"], c["store"])
    except dev.ConfigError as e:
        print("error", e)
attempt({"api_key": "plx_a", "source_id": "pump-1"})
attempt({"api_key": "plx_a"})
attempt({"source_id": "pump-1"})
attempt({"api_key": "plx_a", "gateway_url": "gateway.plexus.company"})
attempt({"api_key": "plx_a", "source_id": "Pump 1"})
attempt({"api_key": "plx_a", "interval_s": "10"})
attempt("{not json")
"""


def test_config_loading_on_micropython(tmp_path):
    path = str(tmp_path / "plexus_config.json")
    script = tmp_path / "checks.py"
    script.write_text("CORE = %r\nLIB = %r\nPATH = %r\n" % (mpy.CORE, os.path.join(FIRMWARE, "lib"), path)
                      + CONFIG_CHECKS)
    r = mpy.run([str(script)], heap="100K")
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert r.returncode == 0 and len(lines) == 7, r.stdout + r.stderr
    assert lines[0] == "ok pump-1 10 /data/plexus"
    assert lines[1].startswith("ok linux-")  # no source_id: from the platform and chip
    assert lines[2].startswith("error no api_key") and "plexus deploy --key" in lines[2]
    assert lines[3].startswith("error gateway_url") and "http://" in lines[3]
    assert lines[4].startswith("error source_id")
    assert lines[5].startswith("error interval_s must be a number")
    assert lines[6].startswith("error") and "not valid JSON" in lines[6]


WIFI_CHECKS = """
import time, plexus_device as dev
led = dev.StatusLed("LED")
dog = dev.Watchdog(0)
w = dev.Wifi("bench-net", "wrong-pass", led, lambda: 0.5)
t = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t) < 3500:
    w.check()
    time.sleep_ms(20)
w.password = "right-pass"
print("joined", w.wait(15000, dog))
print("readings", dev.Sensors(w).read())
"""


def test_wifi_backs_off_on_a_wrong_password_then_joins(emulator, board_env, tmp_path):
    board = emulator(wifi="bench-net:right-pass")
    rc, out = plexus("deploy", "--port", board.port, "--key", "plx_wifitest", "--no-check", "--tail", "0", env=board_env)
    assert rc == 0, out
    out = mpremote(board.port, "exec", WIFI_CHECKS, env=board_env)
    tries = [line for line in out.splitlines() if line.startswith("wifi: wrong password")]
    # backoff of plexus_core.backoff: 1 s, then 2 s (no jitter at u = 0.5)
    assert tries[:2] == ["wifi: wrong password for 'bench-net'; retrying in 1 s",
                         "wifi: wrong password for 'bench-net'; retrying in 2 s"], out
    assert "wifi: connected, ip 127.0.0.1, rssi -58 dBm" in out and "joined True" in out
    assert "('wifi.rssi_dbm', -58)" in out and "('mem.free_bytes'," in out
