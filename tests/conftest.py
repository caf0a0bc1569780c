import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "core"))  # the `check` helpers
sys.path.insert(0, HERE)  # tests.support as `support`
sys.path.append(os.path.join(ROOT, "core"))  # plexus_board (board-only: not in the wheel), for board tests on CPython

from support.gateway import any_gateway, gateway, hosted_gateway  # noqa: E402,F401  (gateway fixtures, for every test directory)
from support import mpy, peers  # noqa: E402  (a module using these runs MicroPython / the package index)
from support.postgres import postgres  # noqa: E402,F401  (a PostgreSQL server for the session, on first use)
from support.balancer import haproxy_bin  # noqa: E402,F401  (skips when HAProxy is not installed)

# Markers (registered in pyproject.toml), applied here by where a test lives
# and what it uses, so no test file names them. The fast subset:
#     .venv/bin/python -m pytest -m "not slow and not browser"
BY_DIRECTORY = {
    "board": ("micropython",),
    "firmware": ("micropython", "slow"),   # an emulated board on a pseudo-terminal per test
    "chaos": ("micropython", "slow"),
    "fuzz": ("slow",),
    "dashboard": ("browser",),
}
SLOW = (  # node id prefixes, each 10 s or more on a 2-core machine
    "board/test_flashlog.py::test_power_cuts",
    "board/test_memory.py",
    "client/test_crash.py",
    "video/test_video_end_to_end.py::test_a_stalled_viewer",
    "test_micropython.py::test_core_from",  # every core test module, four ways, in MicroPython
    "test_packaging.py::test_the_demo_board_program_ships",  # builds an sdist, then a wheel from it
)


def _uses(module, support):
    """True when a test module imported `support` or something from it."""
    return module is not None and any(v is support or getattr(v, "__module__", None) == support.__name__
                                      for v in vars(module).values())


def pytest_collection_modifyitems(config, items):
    for item in items:
        rel = os.path.relpath(str(item.path), HERE).replace(os.sep, "/")
        names = set(BY_DIRECTORY.get(rel.split("/")[0], ()))
        module = getattr(item, "module", None)
        if _uses(module, mpy):
            names.add("micropython")
        if _uses(module, peers):
            names.update(("network", "slow"))  # installs published clients from the package index
        if {"browser", "page"} & set(getattr(item, "fixturenames", ())):
            names.add("browser")
        if (rel + "::" + item.name).startswith(SLOW):
            names.add("slow")
        for name in sorted(names):
            item.add_marker(name)
