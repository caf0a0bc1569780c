"""The sans-I/O HTTP/1.1 and WebSocket codecs: the same checks on CPython
and inside MicroPython (from source at a 64K heap, and compiled by mpy-cross)."""

import os
import sys

import pytest

from support import mpy

MP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp")
sys.path.insert(0, MP)

import codec_checks  # noqa: E402

CHECKS = sorted(n for n in dir(codec_checks) if n.startswith("test_"))


@pytest.mark.parametrize("name", CHECKS)
def test_on_cpython(name):
    getattr(codec_checks, name)()


@pytest.mark.parametrize("heap", ["64K", "2M"])
def test_in_micropython(heap):
    out = mpy.run_tests(mpy.CORE, MP, ["codec_checks"], heap)
    assert out.strip().endswith("%d passed, 0 failed" % len(CHECKS))


def test_in_micropython_compiled(tmp_path):
    core = mpy.compile_core(str(tmp_path))
    mpy.run_tests(core, MP, ["codec_checks"], "64K")
