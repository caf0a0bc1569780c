"""A real PostgreSQL server for tests, started by the tests themselves.

`PostgresServer` runs initdb into a temporary directory and starts the
server on 127.0.0.1 at a free port (as the `postgres` system user when the
tests run as root: the server refuses to run as root). Each test asks for
its own database with `new_database()`.

Debian's binaries live in /usr/lib/postgresql/<version>/bin; PG_BIN or a
`pg_ctl` on PATH wins.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest
from support import aio


def find_bin():
    """The directory with initdb and pg_ctl, or None."""
    if os.environ.get("PG_BIN"):
        return os.environ["PG_BIN"]
    on_path = shutil.which("initdb")
    if on_path:
        return os.path.dirname(os.path.realpath(on_path))
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PostgresServer:
    USER = "plexus"

    def __init__(self, durable=False):
        self.durable = durable  # fsync on (benchmarks); tests run with fsync off
        self.bin = find_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (or set PG_BIN)")
        self.dir = tempfile.mkdtemp(prefix="plexus-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.run_as = None
        if os.geteuid() == 0:
            self.run_as = "postgres"
            pw = pwd.getpwnam(self.run_as)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _run(self, *argv, check=True):
        cmd = list(argv)
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--"] + cmd
        return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir)

    def start(self):
        self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.USER, "--auth=trust",
                  "-E", "UTF8", *([] if self.durable else ["--no-sync"]))
        self.resume()
        return self

    def _pg_ctl(self, *args):
        r = self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, *args, check=False)
        if r.returncode != 0:
            raise RuntimeError("pg_ctl %s failed:\n%s\n%s" % (args[0], r.stdout.decode(), self.log()))

    def stop(self, mode="fast"):
        self._pg_ctl("stop", "-w", "-m", mode)

    def resume(self):
        """Start the server again after stop(), same port and data."""
        opts = "-h 127.0.0.1 -p %d -k %s -c max_connections=300" % (self.port, self.dir)
        if not self.durable:
            opts += " -c fsync=off"
        self._pg_ctl("start", "-w", "-t", "60", "-l", os.path.join(self.dir, "server.log"), "-o", opts)

    def restart(self):
        self.stop()
        self.resume()

    def postmaster(self):
        """The server's process id."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def url(self, database="postgres"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (self.USER, self.port, database)

    def new_database(self):
        """A fresh, empty database's URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        self.sql("CREATE DATABASE %s" % name)
        return self.url(name)

    def sql(self, statement, *args, database="postgres"):
        """Rows of one statement (a list of tuples)."""
        return query(self.url(database), statement, *args)

    def destroy(self):
        if not os.path.isdir(self.dir):
            return  # destroyed already
        try:
            self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def query(url, statement, *args):
    """Rows of one statement on the database at `url`, from outside any gateway."""
    import asyncpg

    async def q():
        c = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await c.fetch(statement, *args)]
        finally:
            await c.close()
    return aio.run(q())


_server = None


def server():
    """The session's server, started on first use (stopped at exit by the fixture)."""
    global _server
    if _server is None:
        import atexit
        _server = PostgresServer().start()
        atexit.register(_server.destroy)  # also when no fixture asked for it (PLEXUS_TEST_STORE=postgresql)
    return _server


@pytest.fixture(scope="session")
def postgres():
    if find_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    srv = server()
    yield srv
    global _server
    srv.destroy()
    _server = None
