"""A real local gateway process for tests: `Gateway(tmpdir)` and the
`gateway` pytest fixture; `Gateway(tmpdir, profile="hosted-2026-08")` and the
`hosted_gateway` fixture behave like the hosted gateway's 2026-08 snapshot.

The gateway runs as `python -m plexus.gateway` on 127.0.0.1; restarts reuse
the same port and database, the way a device sees a real gateway restart.
Stored points are read straight from its database: the SQLite file, or a
PostgreSQL database of its own on the tests' server (support/postgres.py)
when the store is "postgresql" (STORE, set per test by tests/gateway's
conftest, or Gateway(store=...)).
"""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from support import aio

LISTENING = re.compile(rb"listening on https?://127\.0\.0\.1:(\d+)")
STORE = os.environ.get("PLEXUS_TEST_STORE", "sqlite")  # what Gateway() runs on unless told


class Gateway:
    def __init__(self, tmpdir, rate_limits=True, tls=None, args=(), profile=None, store=None, store_url=None):
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db_path = str(self.dir / "gateway.db")
        self.store = store or ("postgresql" if store_url else STORE)
        self.store_url = None
        if self.store == "postgresql":
            from support import postgres
            self.store_url = store_url or postgres.server().new_database()
        self.log_path = str(self.dir / "gateway.log")
        self.rate_limits = rate_limits
        self.tls = tls  # (cert.pem, key.pem): serve HTTPS and WSS
        self.args = list(args)  # more `plexus gateway` options
        self.profile = profile  # `--profile`; None = the default
        self.port = None
        self.proc = None
        self.key = self.create_key(name="test")

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    @property
    def ws_url(self):
        return "%s://127.0.0.1:%d" % ("wss" if self.tls else "ws", self.port)

    @property
    def store_args(self):
        """The `plexus gateway` options that name this gateway's store."""
        return ["--store", self.store_url] if self.store_url else ["--db", self.db_path]

    def create_key(self, name=None, scopes="write,read,commands", source=None):
        from plexus.gateway import db, keys
        if self.store_url:

            from plexus.gateway.pg.store import PostgresStore

            async def create():
                st = PostgresStore(self.store_url, pool_size=1)
                await st.open()
                try:
                    return await st.create_key(name, scopes, source)
                finally:
                    await st.aclose()
            return aio.run(create())
        conn = db.connect(self.db_path)
        try:
            return keys.create(conn, name, scopes, source)
        finally:
            conn.close()

    def start(self, timeout=60):
        assert self.proc is None, "already running"
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        cmd = [sys.executable, "-m", "plexus.gateway", "--host", "127.0.0.1", "--port", str(self.port or 0)]
        cmd += self.store_args
        if not self.rate_limits:
            cmd.append("--no-rate-limits")
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        if self.profile:
            cmd += ["--profile", self.profile]
        cmd += self.args
        if "--workers" not in self.args:
            cmd += ["--workers", "1"]  # one process (PostgreSQL's default is one per core)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                m = LISTENING.search(f.read())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc = None
                raise RuntimeError("gateway did not start:\n" + self.log())
            time.sleep(0.02)  # polling the log for the readiness line

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, timeout=30):
        """SIGTERM: the gateway says goodbye (1001) to devices (not in the hosted profile) and exits."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("gateway ignored SIGTERM for %d s:\n%s" % (timeout, self.log()))
        finally:
            self.proc = None

    def kill(self):
        """SIGKILL: no goodbye, no cleanup, like a crash or power cut."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def _query(self, sql, args):
        """Rows of one SQL statement on the store (`?` placeholders, for either database)."""
        if self.store_url:
            from support import postgres
            parts = sql.split("?")
            sql = parts[0] + "".join("$%d%s" % (i + 1, p) for i, p in enumerate(parts[1:]))
            return postgres.query(self.store_url, sql, *args)
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def points(self, source_id):
        """Stored points of one source, oldest first."""
        rows = self._query("SELECT class, metric, value, ts, tags FROM points WHERE source_id=? ORDER BY ts, id",
                           (source_id,))
        out = []
        for cls, metric, value, ts, tags in rows:
            p = {"class": cls, "metric": metric, "value": json.loads(value), "timestamp": ts}
            if tags:
                p["tags"] = json.loads(tags)
            out.append(p)
        return out

    def count(self, source_id):
        return self._query("SELECT count(*) FROM points WHERE source_id=?", (source_id,))[0][0]

    def at_rest(self):
        """Everything the store keeps about keys, as bytes (to show no key is in it)."""
        if self.store_url:
            return repr(self._query("SELECT * FROM keys", ())).encode()
        with open(self.db_path, "rb") as f:
            return f.read()


@pytest.fixture
def gateway(tmp_path):
    gw = Gateway(tmp_path / "gateway")
    gw.start()
    yield gw
    gw.stop()


HOSTED = "hosted-2026-08"  # the hosted gateway's snapshot (gateway/profile.py)


@pytest.fixture
def hosted_gateway(tmp_path):
    gw = Gateway(tmp_path / "hosted-gateway", profile=HOSTED)
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture(params=[None, HOSTED], ids=["default", "hosted"])
def any_gateway(request, tmp_path):
    """The test once against our gateway and once against the hosted profile."""
    gw = Gateway(tmp_path / "gateway", profile=request.param)
    gw.start()
    yield gw
    gw.stop()


def check_delivered(gw, source, n, metric="seq"):
    """Readings 0..n-1 of `metric` all stored; once, where the gateway dedups
    by batch id (the hosted profile does not: a resent batch may be doubled).
    Returns how often each value is stored."""
    got = Counter(p["value"] for p in gw.points(source) if p["metric"] == metric)
    missing = [i for i in range(n) if got[i] == 0]
    assert not missing, "lost %d of %d readings, e.g. %s" % (len(missing), n, missing[:10])
    if gw.profile != HOSTED:
        doubled = [v for v, c in got.items() if c > 1]
        assert not doubled, "stored twice: %s" % doubled[:10]
    return got
