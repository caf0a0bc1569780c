"""Chaos run: one gateway, CPython clients and MicroPython boards sending at
different rates, while a controller SIGKILLs and restarts the gateway, shuts
it down cleanly, cuts every connection through a TCP proxy, SIGKILLs and
restarts clients (SQLite buffer) and power-cuts boards (SIGKILL mid-write; the
next boot recovers the flash log). At the end every sender delivers what it
holds, and each reading a sender recorded as committed is looked up in the
gateway's database.

    .venv/bin/python tools/chaos.py [--seconds 600] [--clients 3] [--boards 2] [--seed 1] [--cluster]

--cluster runs three gateway replicas on one PostgreSQL server behind
HAProxy instead of one gateway: the kills and restarts hit a random replica,
and PostgreSQL itself is restarted too.

Prints lost / duplicated / stored per sender; exit status 1 if anything was
lost or duplicated.
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "client"))
from proxy import TcpProxy  # noqa: E402
from support import mpy  # noqa: E402
from support.gateway import Gateway  # noqa: E402

SENDERS = os.path.join(HERE, "chaos_senders")
GEN = 10 ** 7


class Sender:
    def __init__(self, kind, sid, argv, work, env):
        self.kind, self.sid, self.argv, self.work, self.env = kind, sid, argv, work, env
        self.proc = None
        self.kills = 0
        self.log = open(os.path.join(work, sid + ".log"), "ab")

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT, env=self.env,
                                     cwd=self.work)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.kills += 1

    def committed(self):
        """{generation: readings committed}, from the ledger."""
        out = {}
        with open(os.path.join(self.work, self.sid + ".ledger")) as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] == "ok":
                    out[int(parts[1])] = max(out.get(int(parts[1]), 0), int(parts[2]))
        return out


def reconcile(gw, sender):
    rows = gw._query("SELECT value, count(*) FROM points WHERE source_id=? AND metric='seq' GROUP BY value",
                     (sender.sid,))
    stored = Counter({int(float(v)): c for v, c in rows})
    committed = sender.committed()
    lost = sum(1 for g, n in committed.items() for i in range(n) if stored[g * GEN + i] == 0)
    dup = sum(c - 1 for c in stored.values() if c > 1)
    extra = sum(1 for v in stored if v % GEN >= committed.get(v // GEN, 0))
    return {"sender": sender.sid, "kind": sender.kind, "committed": sum(committed.values()),
            "stored": sum(stored.values()), "lost": lost, "duplicated": dup, "uncommitted_delivered": extra,
            "restarts": sender.kills}


class ClusterRig:
    """Three replicas on one PostgreSQL behind HAProxy, driven like one Gateway
    (kill/start/restart act on a random replica)."""

    def __init__(self, work, rnd, replicas=3):
        from support.balancer import Balancer
        from support.postgres import PostgresServer
        self.rnd = rnd
        self.pg = PostgresServer().start()
        url = self.pg.new_database()
        self.replicas = []
        for i in range(replicas):
            gw = Gateway(os.path.join(work, "replica-%d" % i), store_url=url)
            if self.replicas:
                gw.key = self.replicas[0].key
            self.replicas.append(gw.start())
        self.key = self.replicas[0].key
        self.balancer = Balancer(os.path.join(work, "haproxy"), self.replicas).start()
        self.port = self.balancer.port

    def kill(self):
        self.rnd.choice([g for g in self.replicas if g.proc]).kill()

    def start(self):
        for g in self.replicas:
            if g.proc is None:
                g.start()

    def restart(self):
        self.rnd.choice(self.replicas).restart()

    def postgres_restart(self):
        self.pg.restart()

    def _query(self, sql, args):
        return self.replicas[0]._query(sql, args)

    def stop(self):
        self.balancer.stop()
        for g in self.replicas:
            g.stop()
        self.pg.destroy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--boards", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--cluster", action="store_true", help="3 replicas on PostgreSQL behind HAProxy")
    args = ap.parse_args(argv)
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="plexus-chaos-")
    env = dict(os.environ, PLEXUS_QUIET="1", HOME=work)
    if args.cluster:
        gw = ClusterRig(work, rnd)
    else:
        gw = Gateway(os.path.join(work, "gateway"))
        gw.start()
    proxy = TcpProxy(gw.port)
    senders = []
    for c in range(args.clients):
        sid = "chaos-py-%d" % c
        senders.append(Sender("cpython", sid, [sys.executable, os.path.join(SENDERS, "cpython_sender.py"),
                                                gw.key, sid, proxy.url, proxy.ws_url, work,
                                                str(rnd.choice([20, 100, 400]))], work, env))
    micropython = mpy.micropython() if args.boards else None
    for b in range(args.boards if micropython else 0):
        sid = "chaos-board-%d" % b
        senders.append(Sender("board", sid, [micropython, "-X", "heapsize=2M",
                                              os.path.join(SENDERS, "board_sender.py"), mpy.CORE, gw.key, sid,
                                              proxy.url, "ws" if b % 2 == 0 else "http", work,
                                              str(rnd.choice([10, 50]))], work, env))
    for s in senders:
        s.start()
    actions = Counter()
    t_end = time.monotonic() + args.seconds
    try:
        while time.monotonic() < t_end:
            time.sleep(rnd.uniform(0.5, 3.0))   # the pace of the chaos, not synchronisation
            what = rnd.choice(["gateway_kill", "gateway_restart", "cut", "cut", "sender_kill", "sender_kill"] +
                              (["postgres_restart"] if args.cluster else []))
            if what == "gateway_kill":
                gw.kill()
                time.sleep(rnd.uniform(0.1, 2.0))
                gw.start()
            elif what == "gateway_restart":
                gw.restart()
            elif what == "postgres_restart":
                gw.postgres_restart()
            elif what == "cut":
                proxy.cut()
            else:
                s = rnd.choice(senders)
                s.kill()
                what = "board_power_cut" if s.kind == "board" else "client_kill"
                s.start()
            actions[what] += 1
        open(os.path.join(work, "stop"), "w").close()
        for s in senders:
            try:
                s.proc.wait(600)
            except subprocess.TimeoutExpired:
                s.proc.kill()
        results = [reconcile(gw, s) for s in senders]
    finally:
        proxy.close()
        gw.stop()
        for s in senders:
            if s.proc.poll() is None:
                s.proc.kill()
    print("chaos: %.0f s, %s" % (args.seconds, ", ".join("%s x%d" % kv for kv in sorted(actions.items()))))
    print("%-16s %-8s %10s %10s %6s %10s %22s %9s" % ("sender", "runtime", "committed", "stored", "lost",
                                                       "duplicated", "uncommitted_delivered", "restarts"))
    for r in results:
        print("%-16s %-8s %10d %10d %6d %10d %22d %9d" % (r["sender"], r["kind"], r["committed"], r["stored"],
                                                         r["lost"], r["duplicated"], r["uncommitted_delivered"],
                                                         r["restarts"]))
    bad = sum(r["lost"] + r["duplicated"] for r in results)
    print("total: lost %d, duplicated %d" % (sum(r["lost"] for r in results),
                                               sum(r["duplicated"] for r in results)))
    if args.keep or bad:
        print("work directory: %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return {"results": results, "actions": dict(actions), "ok": bad == 0, "work": work}


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
