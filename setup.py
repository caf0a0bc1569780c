"""Package build step: the dashboard's chart library (uPlot) is installed from
npm at the version pinned in cpython/plexus/dashboard/package-lock.json and its
built files are copied into plexus/dashboard/vendor/, which is package data.
So wheels, sdists and editable installs all serve it; the repository never
holds it. An sdist already carries vendor/ and has no lockfile, so building
from one needs no npm."""

import json
import os
import re
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = os.path.dirname(os.path.abspath(__file__))
DASHBOARD = os.path.join(ROOT, "cpython", "plexus", "dashboard")
VENDOR = os.path.join(DASHBOARD, "vendor")
BUILT = ("uPlot.iife.min.js", "uPlot.min.css")  # from node_modules/uplot/dist


def _installed_version(name):
    try:
        with open(os.path.join(DASHBOARD, "node_modules", name, "package.json")) as fh:
            return json.load(fh).get("version")
    except (OSError, ValueError):
        return None


def _built_version():
    """The uPlot version in vendor/ (its first line names it), if both files are there."""
    if not all(os.path.exists(os.path.join(VENDOR, f)) for f in BUILT):
        return None
    with open(os.path.join(VENDOR, BUILT[0]), encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    m = re.search(r"\(v([0-9][^)]*)\)", first)
    return m.group(1) if m else None


def build_dashboard():
    lock = os.path.join(DASHBOARD, "package-lock.json")
    if not os.path.exists(lock):
        missing = [f for f in BUILT if not os.path.exists(os.path.join(VENDOR, f))]
        if missing:
            raise SystemExit("plexus/dashboard/vendor/ lacks %s and there is no package-lock.json to build it from"
                             % ", ".join(missing))
        return
    with open(lock) as fh:
        pinned = json.load(fh)["packages"]["node_modules/uplot"]["version"]
    if _built_version() == pinned:
        return
    if _installed_version("uplot") != pinned:
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("Building from a checkout needs Node.js and npm (Debian: apt-get install nodejs npm): "
                             "the dashboard's chart library is installed from the npm registry.")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=DASHBOARD, check=True)
    os.makedirs(VENDOR, exist_ok=True)
    for name in BUILT:
        shutil.copy2(os.path.join(DASHBOARD, "node_modules", "uplot", "dist", name), os.path.join(VENDOR, name))


class BuildPy(build_py):
    def run(self):
        build_dashboard()
        super().run()


class Sdist(sdist):
    def run(self):
        build_dashboard()
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
