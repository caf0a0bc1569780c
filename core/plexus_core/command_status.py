"""Command statuses (PROTOCOL.md §4.11): per-run seq, the frame cap, and the
queue of statuses waiting for command_status_ack (<= 256, oldest dropped).

CommandBook (command_runs) builds on this; kept apart so each module
compiles in a small heap.
"""

import json

from plexus_core.points import _check_json, _finite
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
        self.final = None                # text of the final status
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
        v = _check_json(value, "result", 0)
    except (ValueError, TypeError):
        return {"value": repr(value)[:512]}
    return v if isinstance(v, dict) else {"value": v}


class Statuses:
    def __init__(self, max_queued=MAX_QUEUED):
        self.max_frame_bytes = STATUS_FRAME_MAX
        self.store_results = True
        self.dropped_statuses = 0  # queued statuses dropped as the queue was full
        self._queue = []          # [run id, seq, text], oldest first
        self._max_queued = max_queued

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
        if state == SUCCEEDED or state == FAILED:
            run.final = text
        if state != PROGRESS:
            self._enqueue(run.id, run.seq, text)
        return text

    def _fail(self, run, code, message):
        return self.status(run, FAILED, error_code=code, error_message=message)

    def _fit(self, f):
        """Under the frame cap: drop result and message, then error_message."""
        text = json.dumps(f)
        cap = self.max_frame_bytes
        if json_nbytes(text) > cap:
            f.pop("result", None)
            f.pop("message", None)
            text = json.dumps(f)
            if json_nbytes(text) > cap:
                f.pop("error_message", None)
                text = json.dumps(f)
        return text

    def _enqueue(self, rid, seq, text):
        if len(self._queue) >= self._max_queued:
            self._queue.pop(0)
            self.dropped_statuses += 1
        self._queue.append([rid, seq, text])

    def _queued(self, rid, seq):
        for q in self._queue:
            if q[0] == rid and q[1] == seq:
                return True
        return False

    def _acked(self, f):
        rid = f.get("run_id")
        seq = f.get("seq")
        if type(seq) is not int or type(rid) is not str:
            return
        self._queue = [q for q in self._queue if q[0] != rid or q[1] > seq]

    def unacked(self):
        """How many statuses wait for the gateway's acknowledgement."""
        return len(self._queue)



    def progress(self, run, percent, message=None, now_ms=0):
        """A progress status, or None when one was sent less than 1 s ago
        (100 always goes out). Progress is not queued: a lost one is stale."""
        if percent is True or percent is False or type(percent) not in (int, float) or not _finite(percent) or not 0 <= percent <= 100:
            raise ValueError("progress must be a number from 0 to 100, got %r" % (percent,))
        if message is not None and type(message) is not str:
            raise TypeError("progress message must be a string, got %s" % type(message).__name__)
        if run.final is not None:
            return None
        last = run._progress_ms
        if percent != 100 and last is not None and now_ms - last < PROGRESS_EVERY_MS:
            return None
        run._progress_ms = now_ms
        run.progress = float(percent)
        return self.status(run, PROGRESS, progress=run.progress, message=message)
