"""The dashboard's static files ship inside the wheel (the gateway serves
them from the installed package), and the page needs nothing from a CDN."""

import os
import re
import shutil
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(ROOT, "cpython", "plexus", "dashboard")


def test_every_dashboard_file_is_in_the_wheel(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    # Build from a copy so the checkout gets no build/ or egg-info droppings.
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    for d in ("cpython", "core"):
        shutil.copytree(os.path.join(ROOT, d), src / d, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                        str(src)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {"plexus/dashboard/" + f for f in os.listdir(DASHBOARD) if not f.startswith(".")}
    assert want and want <= names, sorted(want - names)


def test_the_page_loads_only_its_own_files():
    for f in os.listdir(DASHBOARD):
        text = open(os.path.join(DASHBOARD, f), encoding="utf-8").read()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f
        assert not re.search(r"import[^;]*from\s+[\"']https?:", text), f
