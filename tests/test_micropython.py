"""The core test modules, run inside the real MicroPython interpreter.

Every tests/core/test_*.py module runs at a tight (64K) and a roomy (2M)
heap, from source and from .mpy files compiled by mpy-cross, each in its own
interpreter so a failure names its module.
"""

import glob
import os
import shutil
import tempfile

import pytest

from support import mpy

CORE_TESTS = os.path.join(mpy.ROOT, "tests", "core")
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(CORE_TESTS, "test_*.py")))


@pytest.fixture(scope="session")
def mpy_core(tmp_path_factory):
    return mpy.compile_core(str(tmp_path_factory.mktemp("mpy")))


@pytest.fixture(scope="session")
def short_tree():
    """core/ and tests/core/ under a short path, as a board imports from /lib:
    each module's file name stays in the heap, so a long checkout path would
    move a 64K heap's limit by a few KB and the result would depend on where
    the checkout lives."""
    d = tempfile.mkdtemp(prefix="px-", dir="/tmp")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(mpy.CORE, os.path.join(d, "c"), ignore=skip)
    shutil.copytree(CORE_TESTS, os.path.join(d, "t"), ignore=skip)
    shutil.copy(mpy.RUNNER, os.path.join(d, "run.py"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("heap", ["64K", "2M"])
@pytest.mark.parametrize("module", MODULES)
def test_core_from_source(module, heap, short_tree):
    mpy.run_tests(os.path.join(short_tree, "c"), os.path.join(short_tree, "t"), [module], heap,
                  runner=os.path.join(short_tree, "run.py"))


@pytest.mark.parametrize("heap", ["64K", "2M"])
@pytest.mark.parametrize("module", MODULES)
def test_core_from_mpy(module, heap, mpy_core):
    # The .mpy tree holds no .py files, so every core import is compiled code.
    assert not glob.glob(os.path.join(mpy_core, "plexus_core", "*.py"))
    mpy.run_tests(mpy_core, CORE_TESTS, [module], heap)


def test_every_core_module_compiles(tmp_path):
    out = mpy.compile_core(str(tmp_path))
    srcs = glob.glob(os.path.join(mpy.CORE, "**", "*.py"), recursive=True)
    mpys = glob.glob(os.path.join(out, "**", "*.mpy"), recursive=True)
    assert len(srcs) == len(mpys) > 5


def test_a_counted_repetition_regex_fails_on_micropython(tmp_path):
    # The trap this suite guards against: the same check passes on CPython
    # and fails inside MicroPython, so a core module written this way is caught.
    (tmp_path / "trap.py").write_text(
        "import re\n"
        "ok = re.match('^[a-z0-9][a-z0-9_-]{1,62}$', 'pump-07') is not None\n"
        "print('accepted' if ok else 'rejected')\n")
    r = mpy.run([str(tmp_path / "trap.py")])
    assert r.stdout.strip() == "rejected", r.stdout + r.stderr


def test_runner_reports_a_skip_with_its_reason(tmp_path):
    # what a single-precision build prints for tests that need doubles (check.needs_double)
    (tmp_path / "test_skipping.py").write_text(
        "from check import skip\n"
        "def test_runs():\n    pass\n"
        "def test_cannot():\n    skip('needs double-precision floats: why')\n")
    r = mpy.run([mpy.RUNNER, CORE_TESTS, str(tmp_path), "test_skipping"])
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SKIP test_skipping.test_cannot: needs double-precision floats: why" in lines, r.stdout
    assert lines[-1] == "1 passed, 1 skipped, 0 failed", r.stdout


def test_plexus_micropython_picks_the_interpreter(monkeypatch, tmp_path):
    monkeypatch.setenv("PLEXUS_MICROPYTHON", mpy._tool("micropython"))
    assert mpy.micropython() == mpy._tool("micropython")
    monkeypatch.setenv("PLEXUS_MICROPYTHON", str(tmp_path / "no-such-micropython"))
    with pytest.raises(pytest.fail.Exception, match="PLEXUS_MICROPYTHON"):
        mpy.micropython()
