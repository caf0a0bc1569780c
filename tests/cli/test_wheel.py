"""`pip wheel .` builds a wheel with every data file, and the first steps of
docs/install.md work from it in a fresh venv (nothing from the checkout on
the path). Needs the package index for the build backend and dependencies."""

import fnmatch
import glob
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile

import pytest

from clitool import ROOT

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(out),
                        "--disable-pip-version-check"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    (path,) = glob.glob(str(out / "plexus_sdk-*.whl"))
    return path


def pyproject():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def test_the_wheel_holds_every_declared_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    setup = pyproject()["tool"]["setuptools"]
    dirs = setup["package-dir"]
    for package, patterns in setup["package-data"].items():
        src = os.path.join(ROOT, dirs.get(package, package.replace(".", "/")))
        for pattern in patterns:
            inside = package.replace(".", "/") + "/" + pattern
            assert fnmatch.filter(names, inside), "no %s in the wheel" % inside
            for f in glob.glob(os.path.join(src, pattern)):  # and each one in the tree
                assert package.replace(".", "/") + "/" + os.path.relpath(f, src) in names, f
    data = [n for n in names if ".data/data/share/plexus-sdk/" in n]
    shipped = {n.split("share/plexus-sdk/", 1)[1] for n in data}
    with open(os.path.join(ROOT, "package.json")) as f:
        board = {src for _, src in json.load(f)["urls"]}
    firmware = {os.path.relpath(f, ROOT) for f in glob.glob(os.path.join(ROOT, "firmware", "**", "*"), recursive=True)
                if os.path.isfile(f) and "__pycache__" not in f}
    assert board and firmware and "firmware/main.py" in firmware
    units = {"systemd/" + f for f in os.listdir(os.path.join(ROOT, "examples", "systemd"))}
    missing = sorted((board | firmware | {"package.json"}) - shipped) + sorted(
        u for u in units if u not in shipped)
    assert not missing, "board files missing from the wheel: %s" % missing


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    d = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(d)], check=True, timeout=300)
    r = subprocess.run([str(d / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        wheel + "[gateway,deploy]"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    return d


def run(venv, home, *argv, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLEXUS_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH=str(venv / "bin") + os.pathsep + env.get("PATH", ""))
    return subprocess.run(list(argv), capture_output=True, text=True, cwd=str(home), env=env,
                          timeout=kw.pop("timeout", 120), **kw)


def test_the_first_steps_work_from_the_installed_wheel(venv, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r = run(venv, home, "python", "-c", "import plexus, plexus_core; from plexus import boardfiles; "
            "print(plexus.__file__); print(boardfiles.root())")
    where, board_root = r.stdout.split()
    assert where.startswith(str(venv)) and board_root == str(venv / "share" / "plexus-sdk"), r.stdout + r.stderr
    r = run(venv, home, "python", "-c", "import os\nfrom plexus.cli.deploy.files import board_files\n"
            "files = board_files()\nassert all(os.path.exists(s) for _, s, _ in files), files\n"
            "print(len(files))")
    assert r.returncode == 0 and int(r.stdout) > 30, r.stderr
    assert run(venv, home, "plexus", "--version").stdout.startswith("plexus ")
    r = run(venv, home, "plexus", "demo", "--seconds", "3", timeout=300)
    assert r.returncode == 0 and "stored exactly once" in r.stdout, r.stdout + r.stderr
    assert "no MicroPython board client or firmware" not in r.stdout + r.stderr

    # docs/install.md, "First steps" (a free port instead of 8080)
    log = open(tmp_path / "gateway.log", "w+")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLEXUS_", "PYTHON"))}
    env["HOME"] = str(home)
    gw = subprocess.Popen([str(venv / "bin" / "plexus"), "gateway", "--port", "0"], stdout=log,
                          stderr=subprocess.STDOUT, cwd=str(home), env=env)
    try:
        from support.waiting import wait_for
        url = wait_for(lambda: (LISTENING.search(open(log.name).read()) or [None, None])[1], 60,
                       "the gateway to listen")
        r = run(venv, home, "plexus", "init", "--gateway", url, "--create-key", "--db",
                str(home / ".plexus" / "gateway.db"))
        assert r.returncode == 0, r.stdout + r.stderr
        r = run(venv, home, "plexus", "send", "coolant.temp_c", "81.4", "--source", "pump-07")
        assert r.returncode == 0 and "sent coolant.temp_c = 81.4 from pump-07" in r.stdout, r.stdout + r.stderr
        r = run(venv, home, "plexus", "query", "pump-07", "--last", "5m")
        assert r.returncode == 0 and "81.4" in r.stdout, r.stdout + r.stderr
        r = run(venv, home, "plexus", "doctor")
        assert r.returncode == 0 and "All good." in r.stdout, r.stdout + r.stderr
        import urllib.request
        with urllib.request.urlopen(url + "/", timeout=30) as page:  # the dashboard's files are there
            assert b"<html" in page.read().lower()
    finally:
        gw.terminate()
        gw.wait(30)
        log.close()
