"""Nesting checks never recurse: run on an 8 KiB thread stack (an RP2040's
C stack) inside MicroPython (tests/board/mp/stack_checks.py)."""

import os

from support import mpy

MP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp")


def test_nesting_checks_fit_a_board_stack():
    out = mpy.run_tests(mpy.CORE, MP, ["stack_checks"], "2M")
    assert out.strip().endswith("4 passed, 0 failed"), out
