"""A real HAProxy (Debian's) in front of gateway replicas, for tests.

`Balancer(tmpdir, replicas)` writes a config that balances HTTP and
WebSocket round-robin over the replicas' ports, checks each replica's
/health every 300 ms (a killed replica is out after two failures) and runs
haproxy in the foreground. It looks like a Gateway to support.raw's helpers
(url, ws_url, key).
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from support.postgres import free_port

CONFIG = """global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    option redispatch
    retries 2
frontend plexus
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /health
    default-server inter 300ms fall 2 rise 1
{servers}
"""


def find_haproxy():
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)


class Balancer:
    def __init__(self, tmpdir, replicas):
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.replicas = list(replicas)
        self.key = self.replicas[0].key
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d" % self.port

    def start(self):
        servers = "\n".join("    server r%d 127.0.0.1:%d check" % (i, r.port) for i, r in enumerate(self.replicas))
        cfg = self.dir / "haproxy.cfg"
        cfg.write_text(CONFIG.format(port=self.port, servers=servers))
        log = open(self.dir / "haproxy.log", "ab")
        self.proc = subprocess.Popen([find_haproxy(), "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        import socket
        while True:  # until the frontend accepts connections
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("haproxy did not start: %s" % (self.dir / "haproxy.log").read_text())
                time.sleep(0.05)  # polling the port until haproxy listens

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def haproxy_bin():
    path = find_haproxy()
    if path is None:
        pytest.skip("HAProxy is not installed (apt-get install haproxy)")
    return path
