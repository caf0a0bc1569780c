#!/usr/bin/env python3
"""Benchmark `plexus deploy` on an emulated board (tools/board_emulator.py).

Prints, from one run: the time of a first deploy (.mpy and .py sources), of
an unchanged re-deploy, and of the peer way to install the same core,
`mpremote mip install package.json`; the flash the core takes as .mpy and as
.py; and the time and heap that importing the core takes on the board in
each form (the board's RAM is what limits a 100 KB ESP32).

    .venv/bin/python tools/bench_deploy.py
"""

import argparse
import functools
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import board_emulator  # noqa: E402
from plexus.cli import deploy  # noqa: E402

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")
IMPORTS = ("import gc, time\ngc.collect()\na = gc.mem_alloc()\nt = time.ticks_us()\n"
           "import plexus, plexus_core.points, plexus_core.session, plexus_core.batch\n"
           "t = time.ticks_diff(time.ticks_us(), t)\ngc.collect()\n"
           "print('IMPORT', t, gc.mem_alloc() - a)\n")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


class EmulatedBoard:
    def __init__(self, workdir, name):
        self.image = os.path.join(workdir, name + ".img")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "board_emulator.py"),
                                      "--image", self.image], stdout=subprocess.PIPE, text=True)
        self.port = self.proc.stdout.readline().split()[3]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def timed_deploy(port, *extra):
    p = argparse.ArgumentParser()
    deploy.register(p.add_subparsers())
    args = p.parse_args(["deploy", "--port", port, "--key", "plx_benchmark", "--no-check", "--tail", "0"] + list(extra))
    t = time.perf_counter()
    with open(os.devnull, "w") as null:
        rc = deploy.deploy(args, deploy.Console([], stream=null))
    assert rc == 0
    return time.perf_counter() - t


def mpremote(port, *args):
    r = subprocess.run([MPREMOTE, "connect", port] + list(args), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def import_cost(port):
    mpremote(port, "soft-reset")  # fresh heap, nothing imported
    line = [x for x in mpremote(port, "exec", IMPORTS).splitlines() if x.startswith("IMPORT")][0]
    _, us, heap = line.split()
    return int(us) / 1000, int(heap)


def lib_bytes(image):
    files = board_emulator.read_flash(image)
    return sum(len(v) for p, v in files.items() if p.startswith(("/lib/plexus_core/", "/lib/plexus_board/", "/lib/plexus/")))


def main():
    results = []
    with tempfile.TemporaryDirectory() as work:
        a = EmulatedBoard(work, "mpy")
        b = EmulatedBoard(work, "py")
        c = EmulatedBoard(work, "mip")
        handler = functools.partial(QuietHandler, directory=ROOT)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            results.append(("plexus deploy, first (.mpy)", "%.2f s" % timed_deploy(a.port)))
            results.append(("plexus deploy, unchanged", "%.2f s" % timed_deploy(a.port)))
            results.append(("plexus deploy --no-mpy, first", "%.2f s" % timed_deploy(b.port, "--no-mpy")))
            t = time.perf_counter()
            mpremote(c.port, "mip", "install", "http://127.0.0.1:%d/package.json" % server.server_address[1])
            results.append(("peer: mpremote mip install (core only, .py)", "%.2f s" % (time.perf_counter() - t)))
            ms_mpy, heap_mpy = import_cost(a.port)
            ms_py, heap_py = import_cost(b.port)
            results.append(("import core on the board, .mpy", "%.1f ms, %d bytes heap" % (ms_mpy, heap_mpy)))
            results.append(("import core on the board, .py", "%.1f ms, %d bytes heap" % (ms_py, heap_py)))
        finally:
            server.shutdown()
            for board in (a, b, c):
                board.stop()
        results.append(("core on flash, .mpy", "%d bytes" % lib_bytes(a.image)))
        results.append(("core on flash, .py", "%d bytes" % lib_bytes(b.image)))
    width = max(len(k) for k, _ in results)
    for k, v in results:
        print("%-*s  %s" % (width, k, v))
    print("RESULT " + json.dumps(dict(results)))


if __name__ == "__main__":
    main()
