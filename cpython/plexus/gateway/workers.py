"""`plexus gateway --workers N`: N worker processes behind one port.

Each worker is a whole gateway process (its own event loop and store writer)
listening on the same address with SO_REUSEPORT, so the kernel spreads new
connections across them and every core does work. The parent only
supervises: it holds the port (so `--port 0` means one port for all), starts
the workers, restarts one that dies, and passes SIGINT/SIGTERM on so each
worker says goodbye to its devices.

What crosses connections (a command for a device on another worker, live
viewers, presence, per-source rate limits) needs one coordination bus
shared by the workers, the same one that replicas of the gateway use. Until
the chosen store provides it, more than one worker is refused
(`workers_refused`): with SQLite the default is one worker.
"""

import os
import signal
import socket
import subprocess
import sys
import time

RESTART_DELAY_S = 1.0
WORKER_ENV = "PLEXUS_GATEWAY_WORKER"  # set for the workers: listen with SO_REUSEPORT


def workers_refused(n):
    """Why `n` workers cannot run with this gateway's store, or None."""
    if n <= 1:
        return None
    return ("--workers %d: worker processes would each keep their own devices, live viewers and rate "
            "limits, so a command or a live view could miss a device connected to another worker. That "
            "needs a coordination bus shared by the workers, which the SQLite gateway does not have; "
            "run with --workers 1 (the default)" % n)


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


def supervise(n, host, port, worker_argv):
    """Run `n` workers (`python -m plexus.gateway <worker_argv> --port P`) until a signal."""
    holder = hold_port(host, port)
    port = holder.getsockname()[1]
    cmd = [sys.executable, "-m", "plexus.gateway"] + list(worker_argv) + ["--port", str(port)]
    env = dict(os.environ, **{WORKER_ENV: "1"})
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
    out = ["--host", args.host, "--db", os.path.expanduser(args.db),
           "--source-rate", repr(args.source_rate), "--source-burst", repr(args.source_burst)]
    if args.tls_cert:
        out += ["--tls-cert", args.tls_cert, "--tls-key", args.tls_key]
    if args.no_rate_limits:
        out.append("--no-rate-limits")
    if args.max_queued_points:
        out += ["--max-queued-points", str(args.max_queued_points)]
    return out

