"""`--workers N`: refused above 1 with SQLite (no shared coordination bus),
one replica each on PostgreSQL (commands and the newest socket of a source
cross workers), and the supervisor itself: N real worker processes on one
port with SO_REUSEPORT, connections spread over them, a dead worker
restarted, and SIGTERM passed on."""

import json
import os
import re
import signal
import subprocess
import sys

import http.client

import pytest
import websocket
from support.gateway import Gateway
from support.raw import device, next_of, point, recv, wait_for


@pytest.mark.store("sqlite")
def test_more_than_one_worker_is_refused_with_sqlite(tmp_path, store_kind):
    r = subprocess.run([sys.executable, "-m", "plexus.gateway", "--workers", "2", "--port", "0",
                        "--db", str(tmp_path / "g.db")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "coordination bus shared by the workers" in r.stderr and "--workers 1" in r.stderr
    assert "PostgreSQL (--store)" in r.stderr
    assert not os.path.exists(tmp_path / "g.db")  # refused before anything was opened


@pytest.mark.store("postgresql")
def test_workers_refuse_an_unreachable_postgresql_once(tmp_path, store_kind):
    s = __import__("socket").socket()
    s.bind(("127.0.0.1", 0))
    url = "postgresql://plexus:hunter2@127.0.0.1:%d/fleet" % s.getsockname()[1]
    s.close()
    r = subprocess.run([sys.executable, "-m", "plexus.gateway", "--workers", "2", "--port", "0"],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, PLEXUS_GATEWAY_STORE=url))
    assert r.returncode == 1, r.stderr
    assert "cannot use PostgreSQL at postgresql://plexus:***@127.0.0.1" in r.stderr and "hunter2" not in r.stderr
    assert "supervising" not in r.stderr  # no worker was started


def _socket_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return n


@pytest.mark.store("sqlite")
def test_workers_share_one_port_and_are_supervised(tmp_path, store_kind):
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


def _holder(server_port, client_port, pids):
    """Which of `pids` holds the server side of the connection from `client_port`."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if (int(cols[1].rsplit(":", 1)[1], 16) == server_port
                        and int(cols[2].rsplit(":", 1)[1], 16) == client_port):
                    inode = cols[9]
    for pid in pids:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "socket:[%s]" % inode:
                    return pid
            except OSError:
                pass
    return None


def _device_on(gw, pid, pids, source_id, **auth):
    """A device socket held by worker `pid` (connections that land elsewhere are closed before auth)."""
    for _ in range(100):
        ws = websocket.create_connection(gw.ws_url + "/ws/device", timeout=60)
        if _holder(gw.port, ws.sock.getsockname()[1], pids) == pid:
            ws.send(json.dumps({"type": "device_auth", "api_key": gw.key, "source_id": source_id,
                                "platform": "python-sdk", "agent_version": "0.16.0", "protocol": 1,
                                "acks": True, **auth}))
            assert recv(ws)["type"] == "authenticated"
            return ws
        ws.close()
    raise AssertionError("100 connections and none reached worker %d" % pid)


def _post_on(gw, pid, pids, path, body):
    """POST through worker `pid`; (status, JSON body)."""
    for _ in range(100):
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=60)
        c.connect()
        if _holder(gw.port, c.sock.getsockname()[1], pids) == pid:
            c.request("POST", path, json.dumps(body), {"x-api-key": gw.key, "Content-Type": "application/json"})
            r = c.getresponse()
            out = r.status, json.loads(r.read())
            c.close()
            return out
        c.close()
    raise AssertionError("100 connections and none reached worker %d" % pid)


MANIFEST = [{"name": "blink", "params": {}, "idempotent": False, "expires_in_s": 120}]


@pytest.mark.store("postgresql")
def test_workers_on_postgresql_coordinate_as_replicas(tmp_path, store_kind):
    """Two workers on one PostgreSQL database: telemetry through both is stored, a
    command sent through one reaches a device held by the other, and a source
    reconnecting through the other worker closes its older socket."""
    gw = Gateway(tmp_path / "gateway", rate_limits=False)
    log = open(tmp_path / "supervisor.log", "wb")
    sup = subprocess.Popen([sys.executable, "-m", "plexus.gateway", "--host", "127.0.0.1", "--port", "0",
                            "--no-rate-limits", "--workers", "2"], stdout=log, stderr=subprocess.STDOUT,
                           env=dict(os.environ, PLEXUS_GATEWAY_STORE=gw.store_url))
    text = lambda: open(tmp_path / "supervisor.log", encoding="utf-8", errors="replace").read()  # noqa: E731
    pids = []
    socks = []
    try:
        m = wait_for(lambda: re.search(r"supervising 2 gateway workers on port (\d+) \(pids (\d+) (\d+)\)", text()),
                     what="the supervisor's line")
        gw.port, pids = int(m.group(1)), [int(m.group(2)), int(m.group(3))]
        wait_for(lambda: text().count("joined the cluster") == 2, what="both workers in the cluster")
        a, b = pids
        assert gw.store_url not in " ".join(open("/proc/%d/cmdline" % a).read().split("\0"))

        valve = _device_on(gw, a, pids, "valve-1", commands=MANIFEST)
        socks.append(valve)
        other = _device_on(gw, b, pids, "valve-2")
        socks.append(other)
        for i, ws in enumerate((valve, other)):
            ws.send(json.dumps({"type": "telemetry", "seq": 1, "points": [point(i)]}))
            assert next_of(ws, "telemetry_ack")["seq"] == 1
        assert gw.count("valve-1") == 1 and gw.count("valve-2") == 1

        # a command through worker B for the device held by worker A
        status, body = wait_for(lambda: (lambda r: r if r[0] != 200 or r[1].get("queued") else None)(
            _post_on(gw, b, pids, "/v1/sources/valve-1/commands", {"command": "blink"})),
            what="worker B to learn that worker A holds valve-1")
        assert status == 200 and body["queued"] is True
        assert next_of(valve, "typed_command")["id"] == body["id"]

        # the newest socket of a source wins across workers
        newer = _device_on(gw, b, pids, "valve-1", commands=MANIFEST)
        socks.append(newer)
        assert recv(valve)["type"] == "close"
        newer.send(json.dumps({"type": "telemetry", "seq": 2, "points": [point(5)]}))
        assert next_of(newer, "telemetry_ack")["seq"] == 2

        sup.send_signal(signal.SIGTERM)
        assert sup.wait(60) == 0
        for p in pids:
            assert not os.path.exists("/proc/%d" % p) or "zombie" in open("/proc/%d/status" % p).read().lower()
    finally:
        for ws in socks:
            ws.close()
        if sup.poll() is None:
            sup.kill()
            sup.wait()
        for p in pids:  # the workers end with a killed supervisor; make sure
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        log.close()
