"""Offline buffering on a board with no network modules at all, inside
MicroPython (tests/board/mp/offline_checks.py)."""

import os

from support import mpy

MP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp")


def test_client_buffers_without_socket_module():
    out = mpy.run_tests(mpy.CORE, MP, ["offline_checks"], "2M")
    assert out.strip().endswith("1 passed, 0 failed"), out
