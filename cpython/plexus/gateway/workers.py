"""`plexus gateway --workers N`: N worker processes behind one port.

Each worker is a whole gateway process (its own event loop and store writer)
listening on the same address with SO_REUSEPORT, so the kernel spreads new
connections across them and every core does work. The parent only
supervises: it holds the port (so `--port 0` means one port for all), starts
the workers, restarts one that dies, and passes SIGINT/SIGTERM on so each
worker says goodbye to its devices.

What crosses connections (a command for a device on another worker, live
viewers, presence, the newest socket of a source winning) goes through the
coordination that replicas of the gateway use (cluster.py on the store's
bus): each worker is one replica. PostgreSQL has that bus (LISTEN/NOTIFY),
so there the default is one worker per core. The SQLite gateway has none:
more than one worker is refused there (`workers_refused`), and the default
is one. Per-source rate limits are kept per worker, as per replica.
"""

import os
import signal
import socket
import subprocess
import sys
import time

RESTART_DELAY_S = 1.0
WORKER_ENV = "PLEXUS_GATEWAY_WORKER"  # set for the workers: listen with SO_REUSEPORT
STORE_ENV = "PLEXUS_GATEWAY_STORE"    # the PostgreSQL URL, as `plexus gateway` reads it
SUPERVISOR_ENV = "PLEXUS_GATEWAY_SUPERVISOR"  # the supervisor's pid, for its workers


def follow_supervisor():
    """In a worker: end with the supervisor, even when it is SIGKILLed (Linux;
    elsewhere a worker outlives a killed supervisor). False: it is gone already."""
    parent = os.environ.get(SUPERVISOR_ENV)
    if not parent:
        return True
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    return os.getppid() == int(parent)


def default_workers(on_postgres):
    """One per core where the store coordinates workers (PostgreSQL), else one."""
    return max(1, os.cpu_count() or 1) if on_postgres else 1


def workers_refused(n, on_postgres=False):
    """Why `n` workers cannot run with this gateway's store, or None."""
    if n <= 1 or on_postgres:
        return None
    return ("--workers %d: worker processes would each keep their own devices, live viewers and rate "
            "limits, so a command or a live view could miss a device connected to another worker. That "
            "needs a coordination bus shared by the workers, which the SQLite gateway does not have; "
            "run with --workers 1 (the default), or keep the data in PostgreSQL (--store), whose "
            "workers coordinate as replicas do" % n)


def store_problem(url):
    """Before workers start on PostgreSQL: open the store once (its schema
    brought up to date), so an unreachable server is one clear error, not
    workers restarted forever. The error text, or None."""
    import asyncio

    from plexus.gateway.pg.store import PostgresStore
    from plexus.gateway.storage import StoreUnavailable

    async def check():
        st = PostgresStore(url, pool_size=1)
        await st.open()
        await st.aclose()
    try:
        asyncio.run(check())
    except StoreUnavailable as e:
        return str(e)
    return None


def hold_port(host, port):
    """A bound, never listening socket with SO_REUSEPORT: fixes the port for every worker."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("--workers needs SO_REUSEPORT (Linux, BSD, macOS)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, port))
    return s


def supervise(n, host, port, worker_argv, store_url=None):
    """Run `n` workers (`python -m plexus.gateway <worker_argv> --port P`) until a signal.
    A PostgreSQL `store_url` reaches the workers in their environment, never
    on a command line that every user of the machine can read."""
    holder = hold_port(host, port)
    port = holder.getsockname()[1]
    cmd = [sys.executable, "-m", "plexus.gateway"] + list(worker_argv) + ["--port", str(port)]
    env = dict(os.environ, **{WORKER_ENV: "1", SUPERVISOR_ENV: str(os.getpid())})
    if store_url:
        env[STORE_ENV] = store_url
    stopping = []

    def stop(sig, frame):
        stopping.append(sig)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    procs = [subprocess.Popen(cmd, env=env) for _ in range(n)]
    print("supervising %d gateway workers on port %d (pids %s)" % (n, port, " ".join(str(p.pid) for p in procs)),
          file=sys.stderr, flush=True)
    try:
        while not stopping:
            for i, p in enumerate(procs):
                if p.poll() is not None and not stopping:
                    print("gateway worker %d (pid %d) exited with %s; restarting it in %.0f s"
                          % (i, p.pid, p.returncode, RESTART_DELAY_S), file=sys.stderr, flush=True)
                    time.sleep(RESTART_DELAY_S)
                    procs[i] = subprocess.Popen(cmd, env=env)
            time.sleep(0.2)  # the supervisor's polling interval
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        holder.close()
    return 0


def worker_argv(args):
    """One worker's `python -m plexus.gateway` options, from the parent's parsed options."""
    out = ["--host", args.host, "--db", os.path.expanduser(args.db), "--profile", args.profile,
           "--source-rate", repr(args.source_rate), "--source-burst", repr(args.source_burst)]
    if args.tls_cert:
        out += ["--tls-cert", args.tls_cert, "--tls-key", args.tls_key]
    if args.no_rate_limits:
        out.append("--no-rate-limits")
    if args.max_queued_points:
        out += ["--max-queued-points", str(args.max_queued_points)]
    return out

