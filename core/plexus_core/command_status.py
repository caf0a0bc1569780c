"""Command statuses (docs/protocol.md §4.11): per-run seq, the frame cap, the
queue of statuses waiting for command_status_ack (<= 256, oldest dropped).

command_ring remembers runs on top of this, CommandBook (command_runs) on
top of that; kept apart so each module compiles in a small heap.
"""

import json

from plexus_core.commands import _finite, json_safe
from plexus_core.sizes import json_nbytes

ACKNOWLEDGED = "acknowledged"
RUNNING = "running"
PROGRESS = "progress"
SUCCEEDED = "succeeded"
FAILED = "failed"

MAX_QUEUED = 256
STATUS_FRAME_MAX = 65536
PROGRESS_EVERY_MS = 1000


class Run:
    """One command_run: what the book knows about it."""

    relayed = False  # True: a typed_command running a v1 handler (no statuses; command_legacy)

    def __init__(self, run_id, command, attempt, deadline_ms):
        self.id = run_id
        self.command = command
        self.attempt = attempt
        self.deadline_ms = deadline_ms   # monotonic ms; informational
        self.handler = None
        self.params = None
        self.seq = 0
        self.state = None                # last lifecycle state reported
        self.progress = None
        self._progress_ms = None

    def remaining_ms(self, now_ms):
        d = self.deadline_ms - now_ms
        return d if d > 0 else 0


def error_text(exc):
    """"<ExcType>: <msg>", as statuses report a handler's exception."""
    return "%s: %s" % (type(exc).__name__, exc)


def _result(value):
    """None -> {}, dict as is, other -> {"value": v}; unserialisable -> its repr."""
    if value is None:
        return {}
    try:
        v = json_safe(value)
    except (ValueError, TypeError):
        return {"value": repr(value)[:512]}
    return v if isinstance(v, dict) else {"value": v}


class Statuses:
    def __init__(self, max_queued=MAX_QUEUED):
        self.max_frame_bytes = STATUS_FRAME_MAX
        self.store_results = True
        self.dropped_statuses = 0  # queued statuses dropped as the queue was full
        # (run id, seq, text), oldest first, in a list of fixed size: it never
        # grows, so a fragmented board heap never has to find a bigger block.
        self._q = [None] * max_queued
        self._n = 0

    def status(self, run, state, result=None, error_code=None, error_message=None,
               progress=None, message=None):
        """Next command_status of a run (seq + 1); queued unless it is progress."""
        run.seq += 1
        if state != PROGRESS:
            run.state = state
        f = {"type": "command_status", "run_id": run.id, "seq": run.seq, "state": state}
        if progress is not None:
            f["progress"] = progress
        if error_code is not None:
            f["error_code"] = error_code
        if self.store_results:
            if result is not None:
                f["result"] = result
            if error_message is not None:
                f["error_message"] = error_message
            if message is not None:
                f["message"] = message
        text = self._fit(f)
        if state != PROGRESS:
            self._enqueue(run.id, run.seq, text)
        if state == SUCCEEDED or state == FAILED:
            self._ended(run, error_code)
        return text

    def _ended(self, run, error_code):
        """The run reached its final state (command_ring keeps a compact record)."""

    def _fail(self, run, code, message):
        return self.status(run, FAILED, error_code=code, error_message=message)

    def _fit(self, f):
        """Under the frame cap: drop result and message, then error_message."""
        text = json.dumps(f, separators=(",", ":"))
        cap = self.max_frame_bytes
        if json_nbytes(text) > cap:
            f.pop("result", None)
            f.pop("message", None)
            text = json.dumps(f, separators=(",", ":"))
            if json_nbytes(text) > cap:
                f.pop("error_message", None)
                text = json.dumps(f, separators=(",", ":"))
        return text

    def _enqueue(self, rid, seq, text):
        q = self._q
        if self._n == len(q):  # full: the oldest goes
            for i in range(self._n - 1):
                q[i] = q[i + 1]
            self._n -= 1
            self.dropped_statuses += 1
        q[self._n] = (rid, seq, text)
        self._n += 1

    def _queued(self, rid, seq):
        """The queued text of one status, or None."""
        q = self._q
        for i in range(self._n):
            if q[i][0] == rid and q[i][1] == seq:
                return q[i][2]
        return None

    def queued(self):
        """Texts of the unacknowledged statuses, oldest first."""
        return [self._q[i][2] for i in range(self._n)]

    def _acked(self, f):
        rid = f.get("run_id")
        seq = f.get("seq")
        if type(seq) is not int or type(rid) is not str:
            return
        q = self._q
        n = self._n
        j = 0
        for i in range(n):  # compact in place: no new list per ack
            e = q[i]
            if e[0] != rid or e[1] > seq:
                q[j] = e
                j += 1
        for i in range(j, n):
            q[i] = None
        self._n = j

    def unacked(self):
        """How many statuses wait for the gateway's acknowledgement."""
        return self._n

    def progress(self, run, percent, message=None, now_ms=0):
        """A progress status, or None when one was sent less than 1 s ago
        (100 always goes out). Progress is not queued: a lost one is stale."""
        t = type(percent)
        if (t is not int and t is not float) or not _finite(percent) or not 0 <= percent <= 100:
            raise ValueError("progress must be a number from 0 to 100, got %r" % (percent,))
        if message is not None and type(message) is not str:
            raise TypeError("progress message must be a string, got %s" % type(message).__name__)
        if run.state == SUCCEEDED or run.state == FAILED or run.relayed:
            return None  # a relayed run has no progress frame to send
        last = run._progress_ms
        if percent != 100 and last is not None and now_ms - last < PROGRESS_EVERY_MS:
            return None
        run._progress_ms = now_ms
        run.progress = float(percent)
        return self.status(run, PROGRESS, progress=run.progress, message=message)
