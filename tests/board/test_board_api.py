"""The board client's API inside MicroPython, no gateway needed: bad input,
CPython-only features, readings kept on flash, run windows, close."""

import os

from support import mpy

MP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp")


def test_api_checks_in_micropython():
    out = mpy.run_tests(mpy.CORE, MP, ["api_checks"], "2M")
    assert out.strip().endswith("7 passed, 0 failed"), out
