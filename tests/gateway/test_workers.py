"""`--workers N`: refused above 1 with SQLite (no shared coordination bus),
and the supervisor itself: N real worker processes on one port with
SO_REUSEPORT, connections spread over them, a dead worker restarted, and
SIGTERM passed on."""

import json
import os
import re
import signal
import subprocess
import sys

import pytest
from support.gateway import Gateway
from support.raw import device, next_of, point, wait_for


def test_more_than_one_worker_is_refused_with_sqlite(tmp_path, store_kind):
    if store_kind != "sqlite":
        pytest.skip("about the SQLite store only")
    r = subprocess.run([sys.executable, "-m", "plexus.gateway", "--workers", "2", "--port", "0",
                        "--db", str(tmp_path / "g.db")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "coordination bus shared by the workers" in r.stderr and "--workers 1" in r.stderr
    assert not os.path.exists(tmp_path / "g.db")  # refused before anything was opened


def _socket_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return n


def test_workers_share_one_port_and_are_supervised(tmp_path, store_kind):
    if store_kind != "sqlite":
        pytest.skip("the supervisor on one SQLite file")
    gw = Gateway(tmp_path / "gateway", rate_limits=False, store="sqlite")   # for its key and database helpers
    log = open(tmp_path / "supervisor.log", "wb")
    script = ("import sys; from plexus.gateway import workers; sys.exit(workers.supervise(2, '127.0.0.1', 0, "
              "['--host', '127.0.0.1', '--db', %r, '--no-rate-limits']))" % gw.db_path)
    sup = subprocess.Popen([sys.executable, "-c", script], stdout=log, stderr=subprocess.STDOUT)
    text = lambda: open(tmp_path / "supervisor.log", encoding="utf-8", errors="replace").read()  # noqa: E731
    try:
        m = wait_for(lambda: re.search(r"supervising 2 gateway workers on port (\d+) \(pids (\d+) (\d+)\)", text()),
                     what="the supervisor's line")
        gw.port, pids = int(m.group(1)), [int(m.group(2)), int(m.group(3))]
        wait_for(lambda: text().count("listening on http://127.0.0.1:%d" % gw.port) == 2, what="both workers")
        before = [_socket_fds(p) for p in pids]

        socks = []
        for i in range(16):
            ws, reply = device(gw, "unit-%d" % i)
            assert reply["type"] == "authenticated"
            ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(i)]}))
            assert next_of(ws, "telemetry_ack")["seq"] == 1
            socks.append(ws)
        assert sum(gw.count("unit-%d" % i) for i in range(16)) == 16   # both workers write the one database
        after = [_socket_fds(p) for p in pids]
        assert all(a > b for a, b in zip(after, before)), "the kernel gave every connection to one worker"
        for ws in socks:
            ws.close()

        os.kill(pids[0], signal.SIGKILL)
        wait_for(lambda: "exited with -9; restarting it" in text(), what="the supervisor noticing")
        wait_for(lambda: text().count("listening on http://127.0.0.1:%d" % gw.port) == 3, what="the restart")
        ws, reply = device(gw, "unit-after")
        assert reply["type"] == "authenticated"
        ws.close()

        sup.send_signal(signal.SIGTERM)
        assert sup.wait(60) == 0
        for p in pids[1:]:
            assert not os.path.exists("/proc/%d" % p) or "zombie" in open("/proc/%d/status" % p).read().lower()
    finally:
        if sup.poll() is None:
            sup.kill()
            sup.wait()
        log.close()
