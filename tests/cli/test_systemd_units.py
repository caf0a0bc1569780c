"""The systemd units in examples/systemd pass `systemd-analyze verify` once
their paths point at a real install, and their commands parse with the real CLI."""

import os
import shlex
import shutil
import subprocess
import sys

import pytest

from clitool import ROOT

UNITS = os.path.join(ROOT, "examples", "systemd")
VENV = "/home/pi/plexus"  # where the units expect the SDK's venv (docs/raspberry-pi.md)


def units():
    return sorted(f for f in os.listdir(UNITS) if f.endswith(".service"))


def exec_start(text):
    return [ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith("ExecStart=")]


def test_there_is_a_unit_for_the_gateway_and_one_for_a_device():
    assert units() == ["plexus-device.service", "plexus-gateway.service"]


@pytest.mark.parametrize("name", ["plexus-device.service", "plexus-gateway.service"])
def test_unit_verifies(name, tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run installs the systemd package")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    text = open(os.path.join(UNITS, name)).read()
    script = tmp_path / "sensor.py"
    script.write_text("print('hello')\n")
    prefix = os.path.dirname(os.path.dirname(sys.executable))
    here = text.replace(VENV, prefix).replace("/home/pi/sensor.py", str(script)).replace(
        "WorkingDirectory=/home/pi", "WorkingDirectory=%s" % tmp_path)
    path = tmp_path / name
    path.write_text(here)
    r = subprocess.run([tool, "verify", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stdout + r.stderr


def test_the_gateway_unit_runs_a_command_the_cli_takes():
    from plexus.cli import build_parser
    text = open(os.path.join(UNITS, "plexus-gateway.service")).read()
    (cmd,) = exec_start(text)
    argv = shlex.split(cmd)
    assert argv[0] == VENV + "/bin/plexus"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "gateway" and args.host == "0.0.0.0" and args.retention == 30 * 86400000
