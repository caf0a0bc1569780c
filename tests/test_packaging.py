"""Packaging facts: one version everywhere, mip installs every core file
(as source and compiled), and the core imports nothing MicroPython lacks."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile

import plexus
import plexus_core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = os.path.join(ROOT, "core")

# Modules the core may import: MicroPython built-ins only (DESIGN.md).
ALLOWED = {"json", "time", "os", "struct", "socket", "select", "binascii", "errno",
           "gc", "ssl", "tls", "micropython", "sys", "math", "random", "hashlib",
           "asyncio", "vfs", "machine", "network", "plexus_core", "plexus_board", "plexus",
           "io"}  # io.IOBase: sizes.json_size counts JSON bytes through a stream (guarded: not on every port)


BOARD_DIRS = (("plexus_core", "core/plexus_core"), ("plexus_board", "core/plexus_board"),
              ("plexus", "core/board/plexus"))


def core_files():
    """(installed package, repo dir, file) for everything mip puts on a board."""
    for d, src in BOARD_DIRS:
        for f in sorted(os.listdir(os.path.join(ROOT, src))):
            if f.endswith(".py"):
                yield d, src, f


def test_versions_agree():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        py = tomllib.load(f)["project"]["version"]
    with open(os.path.join(ROOT, "package.json")) as f:
        mip = json.load(f)["version"]
    assert py == mip == plexus.__version__ == plexus_core.__version__


def test_package_json_installs_every_core_file():
    with open(os.path.join(ROOT, "package.json")) as f:
        urls = json.load(f)["urls"]
    want = [[d + "/" + f, src + "/" + f] for d, src, f in core_files()]
    assert sorted(urls) == sorted(want)
    for _, src in urls:
        assert os.path.exists(os.path.join(ROOT, src)), src


def test_package_mpy_json_lists_the_same_modules_compiled():
    # written by tools/make_package_json.py beside package.json; its .mpy
    # files are built (--mpy) into build/mpy/, never committed
    with open(os.path.join(ROOT, "package.json")) as f:
        src = json.load(f)
    with open(os.path.join(ROOT, "package-mpy.json")) as f:
        mpy = json.load(f)
    want = [[dst[:-3] + ".mpy", "build/mpy/" + dst[:-3] + ".mpy"] for dst, _ in src["urls"]]
    assert sorted(mpy["urls"]) == sorted(want)
    assert mpy["version"] == src["version"] and mpy["deps"] == src["deps"]
    with open(os.path.join(ROOT, ".gitignore")) as f:
        ignored = f.read().split()
    assert "*.mpy" in ignored and "build/" in ignored


def test_core_imports_only_micropython_builtins():
    bad = []
    for d, src, f in core_files():
        with open(os.path.join(ROOT, src, f)) as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] not in ALLOWED:
                    bad.append("%s/%s:%d import %s" % (d, f, node.lineno, name))
    assert not bad, "core imports modules MicroPython lacks:\n" + "\n".join(bad)


def test_core_has_no_counted_repetition_or_cpython_only_syntax():
    bad = []
    for d, path, f in core_files():
        src = open(os.path.join(ROOT, path, f)).read()
        for pat, why in ((r"re\.(compile|match|search)\([^)]*\{\d+,?\d*\}", "regex {m,n}"),
                         (r"\bdataclass\b", "dataclasses"), (r":=", "walrus"),
                         (r"f\"[^\"]*=\}", "f-string ="), (r"\bmatch .*:\n", "match")):
            if re.search(pat, src):
                bad.append("%s/%s: %s" % (d, f, why))
    assert not bad, bad


def test_pyproject_lists_every_python_package():
    # a subpackage missing from pyproject would be absent from the wheel
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    found = set()
    for top, base in (("plexus", "cpython/plexus"), ("plexus_core", "core/plexus_core")):
        for dirpath, _, files in os.walk(os.path.join(ROOT, base)):
            if "__init__.py" in files and "__pycache__" not in dirpath:
                rel = os.path.relpath(dirpath, os.path.join(ROOT, base))
                found.add(top if rel == "." else top + "." + rel.replace(os.sep, "."))
    assert found == listed


def test_public_client_api_is_annotated():
    # the wheel ships py.typed: every public Plexus call says its types
    import inspect
    from plexus import Plexus
    missing = []
    for name, member in vars(Plexus).items():
        if name.startswith("_") and name not in ("__init__", "__enter__", "__exit__"):
            continue
        fn = member.fget if isinstance(member, property) else member
        if not callable(fn) or isinstance(member, staticmethod):
            continue
        sig = inspect.signature(fn)
        if sig.return_annotation is inspect.Signature.empty:
            missing.append(name + " -> ?")
        missing += ["%s(%s)" % (name, p) for p in list(sig.parameters)[1:]
                    if sig.parameters[p].annotation is inspect.Parameter.empty]
    assert not missing, missing
    assert os.path.exists(os.path.join(ROOT, "cpython", "plexus", "py.typed"))


def test_the_demo_board_program_ships_in_the_sdist_and_its_wheel(tmp_path):
    # `plexus demo` reads its board's main.py from the installed package and
    # copies it to the board: an sdist carries it, and so does a wheel built from that sdist
    from plexus.cli.demo.devices import BOARD_PROGRAM
    rel = os.path.relpath(BOARD_PROGRAM, os.path.join(ROOT, "cpython")).replace(os.sep, "/")
    assert rel == "plexus/cli/demo/board/main.py" and "plexus_app.main(read_sensors)" in open(BOARD_PROGRAM).read()
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "MANIFEST.in", "package.json", "package-mpy.json"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    for d in ("cpython", "core", "firmware", "examples/systemd"):
        shutil.copytree(os.path.join(ROOT, d), src / d,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", "*.egg-info"))
    r = subprocess.run([sys.executable, "-m", "build", "--sdist", "-o", str(tmp_path / "sdist"), str(src)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    (sdist,) = (tmp_path / "sdist").glob("*.tar.gz")
    with tarfile.open(sdist) as t:
        members = t.getnames()
        t.extractall(tmp_path / "unpacked", filter="data")
    assert any(m.endswith("/cpython/" + rel) for m in members), "no %s in the sdist" % rel
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                        str(tmp_path / "unpacked" / members[0].split("/")[0])],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert rel in zipfile.ZipFile(wheel).namelist(), "no %s in the wheel built from the sdist" % rel
