"""Installing with mip: the real `micropython -m mip install` from package.json
served over HTTP from this repository, then `from plexus import Plexus`
from the installed files only, sending to a real gateway; and the compiled
install (package-mpy.json with the .mpy files tools/make_package_json.py
builds) running the standard workload within the board client's heap budget."""

import contextlib
import functools
import json
import http.server
import os
import shutil
import subprocess
import sys
import threading

import pytest

from support import mpy

pytest.importorskip("support.gateway")

sys.path.insert(0, os.path.join(mpy.ROOT, "tools"))
import make_package_json  # noqa: E402  (the tool that writes both package descriptions)

WORKLOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp", "workload.py")


@contextlib.contextmanager
def serving(directory):
    handler = functools.partial(_Quiet, directory=directory)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield "http://127.0.0.1:%d" % srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def repo_server():
    with serving(mpy.ROOT) as url:
        yield url


def mip_install(url, target, home):
    os.makedirs(home, exist_ok=True)
    r = mpy.run(["-m", "mip", "install", "--target", str(target), url], env={"HOME": str(home)},
                timeout=120)
    out = r.stdout + r.stderr
    assert "Done" in out, out  # mip exits 0 even when an install fails


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


USER_CODE = """
import sys
from plexus import Plexus
import plexus_core, plexus_board.client
assert plexus_core.__file__.startswith(sys.argv[1]), plexus_core.__file__
assert plexus_board.client.__file__.startswith(sys.argv[1]), plexus_board.client.__file__
px = Plexus(sys.argv[3], "mpy-mip", sys.argv[2], store=sys.argv[4])
for i in range(50):
    px.send("temp", 20 + i)
px.event("boot", {"installed": "mip"})
print("flushed", px.flush(60), px.buffer_size())
px.close()
"""


def test_mip_install_then_send(repo_server, gateway, tmp_path):
    target = tmp_path / "lib"
    env = {"HOME": str(tmp_path / "home")}
    mip_install(repo_server + "/package.json", target, env["HOME"])
    board = sorted(os.listdir(target / "plexus_board"))
    assert "client.py" in board and "flashlog.py" in board and "wslink.py" in board
    assert "session.py" in os.listdir(target / "plexus_core")
    assert os.path.exists(target / "plexus" / "__init__.py")
    script = tmp_path / "main.py"
    script.write_text(USER_CODE)
    # only the installed files on the import path, as on a board
    r = mpy.run([str(script), str(target), gateway.url, gateway.key, str(tmp_path / "flash")],
                env=dict(env, MICROPYPATH=str(target)), timeout=120, cwd=str(tmp_path))
    assert r.returncode == 0 and "flushed True 0" in r.stdout, r.stdout + r.stderr
    pts = gateway.points("mpy-mip")
    assert sorted(p["value"] for p in pts if p["metric"] == "temp") == list(range(20, 70))
    assert [p["value"] for p in pts if p["metric"] == "boot"] == [{"installed": "mip"}]


@pytest.fixture(scope="module")
def compiled_install(tmp_path_factory):
    """package-mpy.json as committed, with the .mpy files the tool builds,
    served over HTTP and installed by mip into a fresh target."""
    served = tmp_path_factory.mktemp("served")
    make_package_json.build_mpy(str(served))
    shutil.copy(os.path.join(mpy.ROOT, "package-mpy.json"), served)
    target = tmp_path_factory.mktemp("lib")
    with serving(str(served)) as url:
        mip_install(url + "/package-mpy.json", target, tmp_path_factory.mktemp("home"))
    return target


def test_compiled_install_holds_only_mpy_files(compiled_install):
    files = [os.path.join(d, f) for d, _, fs in os.walk(compiled_install) for f in fs]
    assert files and all(f.endswith(".mpy") for f in files), files
    with open(os.path.join(mpy.ROOT, "package.json")) as f:
        want = sorted(dst[:-3] + ".mpy" for dst, _ in json.load(f)["urls"])
    assert sorted(os.path.relpath(f, compiled_install) for f in files) == want


# the .mpy budgets of tests/board/test_memory.py
MPY_HEAP = {"ws": "64K", "http": "64K"}


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_compiled_install_runs_the_standard_workload_within_its_heap_budget(compiled_install, gateway, tmp_path, transport):
    src = "mpy-mip-%s" % transport
    r = subprocess.run([mpy.micropython(), "-X", "heapsize=" + MPY_HEAP[transport], WORKLOAD,
                        str(compiled_install),
                        gateway.url, gateway.key, src, str(tmp_path / "store"), "1000", transport],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0 and r.stdout.startswith("OK 1000"), (
        "the compiled mip install no longer runs the workload in its .mpy budget (%s); run tools/bench_board.py:"
        "\n%s%s" % (transport, r.stdout, r.stderr))
    assert gateway.count(src) == 1000
