"""The dashboard's files ship inside the wheel and the sdist (the gateway
serves them from the installed package), its chart library is built from
npm by the package build and never committed, and the page needs nothing
from a CDN."""

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(ROOT, "cpython", "plexus", "dashboard")
BUILT = {"plexus/dashboard/vendor/uPlot.iife.min.js", "plexus/dashboard/vendor/uPlot.min.css"}
NOT_SHIPPED = {"package.json", "package-lock.json"}  # what the build reads, not what the page loads


def own_files():
    return sorted(f for f in os.listdir(DASHBOARD)
                  if os.path.isfile(os.path.join(DASHBOARD, f)) and not f.startswith(".") and f not in NOT_SHIPPED)


def checkout_copy(dst):
    """The tracked files of a checkout, without node_modules or built files."""
    dst.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "MANIFEST.in", "package.json", "package-mpy.json"):
        shutil.copy(os.path.join(ROOT, name), dst / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", "vendor")
    for d in ("cpython", "core", "firmware", "examples/systemd"):  # the wheel's data files come from these too
        shutil.copytree(os.path.join(ROOT, d), dst / d, ignore=ignore)
    return dst


def build(kind, src, out, env=None):
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    if kind == "sdist":
        cmd = [sys.executable, "-m", "build", "--sdist", "-o", str(out), str(src)]
    r = subprocess.run(cmd, cwd=str(src), capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_wheel_and_sdist_carry_the_dashboard_and_its_built_chart_library(tmp_path):
    src = checkout_copy(tmp_path / "src")
    build("wheel", src, tmp_path / "dist")
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    want = {"plexus/dashboard/" + f for f in own_files()} | BUILT
    assert want <= names, sorted(want - names)
    assert not [n for n in names if "node_modules" in n or n.endswith("package-lock.json")]

    build("sdist", src, tmp_path / "sdist")
    (sdist,) = (tmp_path / "sdist").glob("*.tar.gz")
    with tarfile.open(sdist) as t:
        members = t.getnames()
        top = members[0].split("/")[0]
        t.extractall(tmp_path / "unpacked", filter="data")
    for f in BUILT:
        assert any(m.endswith("cpython/" + f) for m in members), f
    assert not [m for m in members if "node_modules" in m]

    # A wheel built from the sdist needs no npm: the built files came with it.
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))
    build("wheel", tmp_path / "unpacked" / top, tmp_path / "dist2", env=env)
    (wheel2,) = (tmp_path / "dist2").glob("*.whl")
    assert BUILT <= set(zipfile.ZipFile(wheel2).namelist())


def test_this_install_serves_the_built_chart_library():
    """The editable install .ci/run makes ran the same build step."""
    import plexus
    vendor = os.path.join(os.path.dirname(plexus.__file__), "dashboard", "vendor")
    for f in BUILT:
        assert os.path.getsize(os.path.join(vendor, os.path.basename(f))) > 1000, f


def test_the_chart_library_is_never_committed():
    r = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return  # not a git checkout (an unpacked sdist): nothing is committed there
    tracked = r.stdout.splitlines()
    assert tracked
    bad = [f for f in tracked if "node_modules/" in f or "/dashboard/vendor/" in f
           or re.search(r"uplot[^/]*\.(js|css)$", f, re.I)]
    assert not bad, bad
    for f in tracked:
        if f.endswith((".js", ".css")):
            with open(os.path.join(ROOT, f), encoding="utf-8", errors="replace") as fh:
                assert "github.com/leeoniya/uPlot" not in fh.read(), f


def test_the_page_loads_only_its_own_files():
    for f in own_files():
        text = open(os.path.join(DASHBOARD, f), encoding="utf-8").read()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f
        assert not re.search(r"import[^;]*from\s+[\"']https?:", text), f


def test_the_gateway_serves_the_chart_library_and_nothing_else_under_vendor(gateway):
    import urllib.error
    import urllib.request

    def get(path):
        try:
            with urllib.request.urlopen(gateway.url + path, timeout=30) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, None, b""

    status, ctype, body = get("/vendor/uPlot.iife.min.js")
    assert status == 200 and ctype.startswith("text/javascript") and b"uPlot" in body
    assert get("/vendor/uPlot.min.css")[:2] == (200, "text/css")
    page = get("/")[2].decode()
    assert 'src="vendor/uPlot.iife.min.js"' in page
    for path in ("/vendor/package.json", "/vendor/..%2Fpackage-lock.json", "/vendor/nope.js", "/package.json"):
        assert get(path)[0] == 404, path
