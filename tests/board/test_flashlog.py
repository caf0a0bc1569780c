"""The flash log inside the real MicroPython interpreter, on littlefs2 RAM
flash: behaviour checks, then the power-cut campaign (every cut point of a
small log and 1,000 seeded random cuts of a long one, torn and clean), with
ESP32's littlefs defaults and with the Pico's progsize=256."""

import os
import re

import pytest

from support import mpy

MP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp")


def test_flash_log_checks_in_micropython():
    # The RAM flash lives in the interpreter's heap, so these run roomy;
    # the 64K budget of the client is tests/board/test_memory.py.
    mpy.run_tests(mpy.CORE, MP, ["flashlog_checks"], "2M")


@pytest.mark.parametrize("progsize", [0, 256], ids=["esp32-defaults", "progsize-256"])
def test_power_cuts_never_lose_or_corrupt_a_closed_segment(progsize):
    seed = 20261125 + progsize
    r = mpy.run([os.path.join(MP, "powercut.py"), mpy.CORE, MP, str(seed), str(progsize),
                 "10", "120", "1000"], heap="64M", timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    found = re.findall(r"(\d+) segments, (\d+) operations, (\d+) torn segments discarded; "
                       r"cuts: (\d+) checked, (\d+) failed", out)
    assert len(found) == 2, out
    (s_segs, s_ops, s_torn, s_cuts, s_bad), (l_segs, l_ops, l_torn, l_cuts, l_bad) = [
        tuple(int(x) for x in f) for f in found]
    assert s_bad == l_bad == 0
    assert s_cuts == 2 * (s_ops + 1)  # every cut point, torn and clean
    assert l_cuts >= 1000 and l_segs >= 50
    assert s_torn > 0 and l_torn > 0  # the campaign did hit segments mid-write


def test_statvfs_is_not_on_the_write_path():
    # statvfs walks the whole filesystem; the flash log never calls it.
    with open(os.path.join(mpy.CORE, "plexus_board", "flashlog.py")) as f:
        assert "statvfs" not in f.read()
