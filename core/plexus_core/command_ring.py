"""What the device remembers of the last 256 runs (docs/protocol.md §4.11): a
ring of run ids, so a redelivered run is re-reported and never run twice,
and the command_sync frame sent after each auth.

Two fixed lists, not a dict: they never grow, so a long-running board never
needs a bigger contiguous block in a fragmented heap. An ended run is kept
as a small int (no allocation), not its Run and result.
"""

import json

from plexus_core.command_status import (FAILED, MAX_QUEUED, STATUS_FRAME_MAX, SUCCEEDED,
                                        Statuses)

REMEMBER_RUNS = 256
# How a run ended, as (state, error_code); a remembered run keeps the index.
ENDINGS = ((SUCCEEDED, None), (FAILED, None), (FAILED, "unknown_command"), (FAILED, "bad_params"),
           (FAILED, "expired_on_arrival"), (FAILED, "busy"), (FAILED, "duplicate"),
           (FAILED, "handler_error"), (FAILED, "cancelled"))


class RunRing(Statuses):
    def __init__(self, remember=REMEMBER_RUNS, max_queued=MAX_QUEUED):
        Statuses.__init__(self, max_queued)
        self._ids = [None] * remember   # run ids; _pos is the oldest
        self._recs = [None] * remember  # the Run, or ENDINGS index + 16 * seq once ended
        self._pos = 0

    def _find(self, rid):
        ids = self._ids
        for i in range(len(ids)):
            if ids[i] == rid:
                return i
        return -1

    def _remember(self, run):
        self._ids[self._pos] = run.id
        self._recs[self._pos] = run
        self._pos = (self._pos + 1) % len(self._ids)

    def _rereport(self, rid, rec):
        """A run id seen before: say where it is, never run it again."""
        if type(rec) is int:  # ended: its final status, queued or rebuilt
            state, code = ENDINGS[rec & 15]
            seq = rec >> 4
            text = self._queued(rid, seq)
            if text is None:
                f = {"type": "command_status", "run_id": rid, "seq": seq, "state": state}
                if code is not None:
                    f["error_code"] = code
                text = json.dumps(f, separators=(",", ":"))
                self._enqueue(rid, seq, text)
            return text
        if rec.state is None:
            return self._fail(rec, "duplicate", "this run was received before and did not start")
        return self.status(rec, rec.state, progress=rec.progress)

    def _ended(self, run, error_code):
        i = self._find(run.id)
        if i >= 0 and self._recs[i] is run:
            self._recs[i] = ENDINGS.index((run.state, error_code)) + 16 * run.seq

    def sync(self, max_frame_bytes=None, store_results=True):
        """After each auth: command_sync (every remembered run with a state),
        then the unacknowledged statuses."""
        if max_frame_bytes and 0 < max_frame_bytes < STATUS_FRAME_MAX:
            self.max_frame_bytes = max_frame_bytes
        else:
            self.max_frame_bytes = STATUS_FRAME_MAX
        self.store_results = store_results is not False
        out = []
        runs = []
        n = len(self._ids)
        for k in range(n):
            i = (self._pos + k) % n  # oldest first
            rec = self._recs[i]
            if type(rec) is int:
                runs.append({"run_id": self._ids[i], "state": ENDINGS[rec & 15][0], "seq": rec >> 4})
            elif rec is not None and rec.state is not None:
                runs.append({"run_id": rec.id, "state": rec.state, "seq": rec.seq})
        if runs:
            out.append(json.dumps({"type": "command_sync", "runs": runs}, separators=(",", ":")))
        out.extend(self.queued())
        return out
