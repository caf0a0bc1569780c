"""The SQLite store's writer: a process of its own that owns the write
connection and commits write jobs in groups (db.commit_group).

Why a process: a writer thread shares the event loop's interpreter lock.
Beside a busy thread it spent twice the CPU per frame it needs alone, and
under a fleet's load the loop and the writer together never got past one
core (docs/benchmarks.md). In a process of its own the writer builds the
rows, inserts and commits on another core.

A job is a module-level function and its arguments, pickled in the caller's
thread and sent down the process's stdin; each group's results come back on
its stdout. Frames both ways: payload length and job id (4 bytes each), then
the pickle; job id 0 asks the process to finish and exit.

If the process ends (killed, out of memory), every write in flight fails
with StoreUnavailable. None of it was acknowledged, so devices send it again
after reconnecting (and a batch id is stored once). The next write starts a
new process. If the gateway dies, the process commits nothing more: it
checks before each group that the gateway is still its parent.
"""

import asyncio
import concurrent.futures
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time

from plexus.gateway import db
from plexus.gateway.sqlite import points
from plexus.gateway.storage import StoreUnavailable

log = logging.getLogger("plexus.gateway")

_HEAD = struct.Struct(">II")  # payload length, job id
_END = 0
_MAX_ID = 0xFFFFFFFF
# The jobs a read takes are the next group: the pipe holds up to this much
# while a commit runs (Linux's default, 64 KiB, is about 90 frames).
PIPE_BYTES = 1 << 20
# The writer copies the WAL into the database after a commit once it holds
# this many pages: 10x SQLite's default, so a fleet's commits sync the
# database a tenth as often (at the default, checkpoints were about 15 % of
# the writer's time at 5,000 devices). The WAL stayed at about 80 MB under
# twice the load the gateway takes. (A checkpoint thread beside the commits
# was tried: under load it never finishes, and the WAL grew without end.)
CHECKPOINT_PAGES = 10000
# Jobs that arrive while a group commits wait until GATHER_S after that
# group began before the next group is read, so that under load a commit
# holds many frames, not one or two. Without it, 1,000 devices at a frame a
# second came in groups of 1.6, and the writer's share of CPU per frame was
# 0.47 ms; with it, 0.33 ms, for an ack p50 of 9 ms instead of 2
# (docs/benchmarks.md). A job that finds nothing waiting, as a lone
# client's does, is read and committed at once.
GATHER_S = 0.010


class WriterProcess:
    """submit(fn, *args) / submit_async(loop, fn, *args): fn(conn, *args) runs
    in the writer process inside a group's transaction; the future has its
    result once the group is committed."""

    def __init__(self, path):
        self.path = path
        db.connect(path).close()  # the file and its schema exist once the store does, as others expect
        self._cond = threading.Condition()
        self._queue = []            # (future, pickled job) not yet sent
        self._closing = False
        self._child = _Child(path)  # started now, so the first write does not wait for it
        self._sender = threading.Thread(target=self._send_loop, name="gateway-writer-send", daemon=True)
        self._sender.start()

    def submit(self, fn, *args):
        fut = concurrent.futures.Future()
        self._put(fut, fn, args)
        return fut

    def submit_async(self, loop, fn, *args):
        """Like submit, as a future of the asyncio `loop`: a group's results
        reach the loop in one wake-up instead of one per job (the hot path)."""
        fut = loop.create_future()
        self._put(fut, fn, args)
        return fut

    def _put(self, fut, fn, args):
        job = pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)
        with self._cond:
            if self._closing:
                raise StoreUnavailable("the store is closed")
            self._queue.append((fut, job))
            if len(self._queue) == 1:
                self._cond.notify()

    def _send_loop(self):
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                jobs, self._queue = self._queue, []
                done = self._closing and not jobs
            if done:
                self._child.finish()
                return
            if self._child.dead:
                log.warning("the SQLite writer process ended (exit code %s); starting a new one",
                            self._child.proc.returncode)
                try:
                    self._child = _Child(self.path)
                except OSError as e:  # out of processes or files: these fail, the next write tries again
                    _deliver([(fut, False, StoreUnavailable("cannot start the SQLite writer process: %s" % e))
                              for fut, _ in jobs])
                    continue
            self._child.send(jobs)

    def close(self):
        """Commit what was submitted, then end the process."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._sender.join(60)
        self._child.wait(30)


class _Child:
    """One writer process, and the futures of the jobs sent to it."""

    def __init__(self, path):
        self.proc = subprocess.Popen([sys.executable, "-m", "plexus.gateway.writer_process", path, str(os.getpid())],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            import fcntl
            fcntl.fcntl(self.proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except (ImportError, AttributeError, OSError):  # not Linux, or over the system's limit
            pass
        self.dead = False
        self._lock = threading.Lock()
        self._waiting = {}          # job id -> future
        self._id = 0
        self._receiver = threading.Thread(target=self._receive, name="gateway-writer-receive", daemon=True)
        self._receiver.start()

    def send(self, jobs):
        parts = []
        with self._lock:
            if self.dead:
                err = self._ended()
                _deliver([(fut, False, err) for fut, _ in jobs])
                return
            for fut, job in jobs:
                self._id = self._id % _MAX_ID + 1  # never _END
                self._waiting[self._id] = fut
                parts.append(_HEAD.pack(len(job), self._id))
                parts.append(job)
        try:
            self.proc.stdin.write(b"".join(parts))
            self.proc.stdin.flush()
        except (OSError, ValueError):  # it ended: the receiver fails what it had
            pass

    def finish(self):
        try:
            self.proc.stdin.write(_HEAD.pack(0, _END))
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass

    def wait(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._receiver.join(timeout)

    def _receive(self):
        out = self.proc.stdout
        try:
            while True:
                head = out.read(_HEAD.size)
                if len(head) < _HEAD.size:
                    break
                results = pickle.loads(out.read(_HEAD.unpack(head)[0]))
                with self._lock:
                    settled = [(self._waiting.pop(i), ok, value) for i, ok, value in results]
                _deliver(settled)
        except (OSError, EOFError, pickle.UnpicklingError):
            self.proc.kill()  # an answer that cannot be read: this process is done
        self.proc.wait()
        with self._lock:
            self.dead = True
            lost, self._waiting = list(self._waiting.values()), {}
        if lost:
            err = self._ended()
            _deliver([(fut, False, err) for fut in lost])

    def _ended(self):
        return StoreUnavailable("the SQLite writer process ended (exit code %s) before committing"
                                % self.proc.returncode)


def _deliver(results):
    """Settle [(future, ok, value)]: asyncio futures on their loops, one
    call per loop."""
    on_loops = {}
    for r in results:
        if isinstance(r[0], asyncio.Future):
            on_loops.setdefault(r[0].get_loop(), []).append(r)
        else:
            _settle(r)
    for loop, rs in on_loops.items():
        try:
            loop.call_soon_threadsafe(_settle_all, rs)
        except RuntimeError:  # that loop is closed: nobody waits for these any more
            pass


def _settle_all(results):
    for r in results:
        _settle(r)


def _settle(r):
    fut, ok, value = r
    if fut.cancelled():  # its waiter gave up; the write itself is done
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


# -- the writer process ----------------------------------------------------------------

def _jobs_waiting(fd):
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):  # a system whose select takes no pipes: commits are not gathered
        return False


def _refuse(conn, e):
    raise e


def _pickled(results):
    try:
        return pickle.dumps(results, pickle.HIGHEST_PROTOCOL)
    except Exception:  # a result or an error that does not pickle: its text instead
        safe = []
        for i, ok, value in results:
            try:
                pickle.dumps(value)
            except Exception:
                ok, value = False, RuntimeError("%s: %s" % (type(value).__name__, value))
            safe.append((i, ok, value))
        return pickle.dumps(safe, pickle.HIGHEST_PROTOCOL)


def main(path, gateway_pid):
    # Ctrl-C (and a service manager's SIGTERM) reach the whole process group:
    # this process ends when the gateway says so, or is gone (end of stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to the gateway's log, not into the results
    conn = db.connect(path)
    conn.execute("PRAGMA wal_autocheckpoint=%d" % CHECKPOINT_PAGES)
    try:
        _serve(conn, 0, out, gateway_pid)
    finally:
        conn.close()


def _serve(conn, inp, out, gateway_pid):
    """Commit the groups of jobs read from the file descriptor `inp`, their
    results to the file `out`, while `gateway_pid` is this process's parent."""
    buf = bytearray()
    began = 0.0  # monotonic time the last group was read
    while True:
        if _jobs_waiting(inp):  # they came while the last group committed: gather more
            pause = began + GATHER_S - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        data = os.read(inp, PIPE_BYTES)  # a group: whatever arrived while the last one committed
        began = time.monotonic()
        if not data:
            return  # the gateway is gone
        buf += data
        group, pos, end = [], 0, False
        while len(buf) - pos >= _HEAD.size:
            n, i = _HEAD.unpack_from(buf, pos)
            if i == _END:
                end = True
                break
            if len(buf) - pos - _HEAD.size < n:
                break
            start = pos + _HEAD.size
            try:
                fn, args = pickle.loads(buf[start:start + n])
            except Exception as e:  # refused alone, like a job that fails
                fn, args = _refuse, (RuntimeError("a write job that does not unpickle: %s" % e),)
            group.append((i, fn, args))
            pos = start + n
        del buf[:pos]
        if os.getppid() != gateway_pid:
            return  # the gateway died: what it sent is not committed, as if this were its own thread
        for k in range(0, len(group), db.MAX_GROUP):
            jobs = group[k:k + db.MAX_GROUP]
            if k == 0 and points.move_due():
                jobs.append((None, points.move_rows, ()))  # the database's own work, answered to nobody
            results = db.commit_group(conn, jobs)
            for key, ok, value in results:
                if key is None and not ok:  # the rows stay in points_recent, read there; the next move retries
                    log.warning("moving points to the indexed table failed: %s", value)
            payload = _pickled([r for r in results if r[0] is not None])
            out.write(_HEAD.pack(len(payload), _END) + payload)
            out.flush()
        if end:
            return


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
