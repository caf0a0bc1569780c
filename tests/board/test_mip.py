"""Installing with mip: the real `micropython -m mip install` from package.json
served over HTTP from this repository, then `from plexus import Plexus`
from the installed files only, sending to a real gateway."""

import functools
import http.server
import os
import threading

import pytest

from support import mpy

pytest.importorskip("support.gateway")


@pytest.fixture
def repo_server():
    handler = functools.partial(_Quiet, directory=mpy.ROOT)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


USER_CODE = """
import sys
from plexus import Plexus
import plexus_core
assert plexus_core.__file__.startswith(sys.argv[1]), plexus_core.__file__
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
    os.makedirs(env["HOME"])
    r = mpy.run(["-m", "mip", "install", "--target", str(target), repo_server + "/package.json"],
                env=env, timeout=120)
    out = r.stdout + r.stderr
    assert "Done" in out, out  # mip exits 0 even when an install fails
    installed = sorted(os.listdir(target / "plexus_core"))
    assert "board.py" in installed and "flashlog.py" in installed and "wslink.py" in installed
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
