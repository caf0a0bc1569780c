"""The demo's gateway: `python -m plexus.gateway` as a child process on
127.0.0.1, with a temporary SQLite database that survives its restart."""

import collections
import signal
import subprocess
import sys
import threading

from plexus.cli.account import create_local_key

LISTENING = "listening on "


class LocalGateway:
    """`python -m plexus.gateway` on 127.0.0.1; restart keeps the port and the database."""

    def __init__(self, db_path):
        self.db_path = db_path
        self.port = 0
        self.proc = None
        self.log = collections.deque(maxlen=40)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=60.0):
        cmd = [sys.executable, "-m", "plexus.gateway", "--host", "127.0.0.1", "--port", str(self.port),
               "--db", self.db_path]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        found = threading.Event()
        url = []

        def read(proc):
            for line in proc.stderr:
                self.log.append(line.rstrip())
                if not found.is_set() and LISTENING in line:
                    url.append(line.split(LISTENING, 1)[1].split()[0])
                    found.set()
            found.set()

        threading.Thread(target=read, args=(self.proc,), name="demo-gateway-log", daemon=True).start()
        found.wait(timeout)
        if not url:
            self.kill()
            raise RuntimeError("the gateway did not start:\n  " + "\n  ".join(list(self.log)[-10:]))
        self.port = int(url[0].rstrip("/").rsplit(":", 1)[1])

    def stop(self, timeout=30.0):
        """SIGTERM (the gateway says goodbye and finishes storing), then wait."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.stop()
        self.start()

    def create_key(self, name="demo"):
        try:
            return create_local_key(self.db_path, name)
        except ValueError as e:
            raise RuntimeError(str(e))
