"""Commands on the device (docs/protocol.md §4.10-4.11) as sans-I/O bookkeeping.

Frames in (parsed dicts from DeviceSession's COMMAND events), frame text
out. The runtime writes the text and runs the handlers: a thread per run on
CPython, inline from poll() on a board.

    texts, job = book.receive(frame, now_ms)   # write texts; run job if any
    text = book.started(job)                   # v1 only: the "running" status
    text = book.done(job, value, exc)          # result/error, or final status
    texts = book.after_auth(max_frame_bytes, store_results)  # after each auth

A run id is remembered in a fixed ring (256), so a redelivered run is
re-reported and never run twice. Every non-progress status stays queued
(<= 256, oldest dropped, command_status) until command_status_ack, and is replayed behind
command_sync after each auth, so statuses written while disconnected are
not lost. Legacy commands (typed_command -> command_result) are in command_legacy.
"""

from plexus_core.command_ring import REMEMBER_RUNS, RunRing
from plexus_core.command_status import (ACKNOWLEDGED, RUNNING, SUCCEEDED, MAX_QUEUED, Run,
                                        error_text, _result)
from plexus_core import commands as C



class CommandBook(RunRing):
    def __init__(self, remember=REMEMBER_RUNS, max_queued=MAX_QUEUED, max_active=None):
        RunRing.__init__(self, remember, max_queued)
        self.max_active = max_active  # runs + calls at once (bounds handler threads)
        self.declared = {}        # name -> [entry, handler]
        self.legacy = None        # LegacyCommands, once one is declared or sent
        self.relayed = False      # the gateway speaks only typed_command (see after_auth)
        self._active = {}         # command name -> runs started and not done

    # -- declarations ---------------------------------------------------------

    def declare(self, handler, name, **kw):
        """Add (or replace) a v1 command; returns its manifest entry."""
        from plexus_core.command_decl import declare  # the rules, loaded on first use
        entry = declare(name, **kw)
        self.declared[name] = [entry, handler]
        return entry

    def on_command(self, name, handler, description=None, params=None, concurrency="accept"):
        """Add (or replace) a legacy command (command_legacy does the work)."""
        return self._legacy_book().on_command(name, handler, description, params, concurrency)

    def _legacy_book(self):
        # Imported on first use: a board without legacy commands saves the heap.
        if self.legacy is None:
            from plexus_core.command_legacy import LegacyCommands
            self.legacy = LegacyCommands(self._active, self.full)
        return self.legacy

    def full(self):
        """As many handlers running as max_active allows."""
        if self.max_active is None:
            return False
        n = 0
        for k in self._active:
            n += self._active[k]
        return n >= self.max_active

    def pending(self):
        """Frames still owed to the gateway: unacknowledged statuses and
        legacy results not yet written."""
        return self.unacked() + (len(self.legacy._held) if self.legacy is not None else 0)

    def manifest(self):
        """device_auth `commands`: v1 declarations only (legacy entries under
        protocol 1 draw invalid_command on every connect); None when there are none."""
        return [self.declared[n][0] for n in self.declared] or None

    # -- frames from the gateway -------------------------------------------------

    def receive(self, f, now_ms):
        """One COMMAND frame -> (texts to write, job to run or None)."""
        t = f.get("type")
        if t == "command_run":
            return self._run(f, now_ms)
        if t == "typed_command":
            return self._legacy_book().receive(f, self.declared, self.relayed, now_ms)
        if t == "command_status_ack":
            self._acked(f)
        return [], None  # command_cancel is reserved: not implemented

    def _run(self, f, now_ms):
        rid = f.get("run_id")
        if type(rid) is not str or not rid:
            return [], None
        i = self._find(rid)
        if i >= 0:
            return [self._rereport(rid, self._recs[i])], None
        name = f.get("command")
        attempt = f.get("attempt")
        if type(attempt) is not int or attempt < 1:
            attempt = 1
        d = self.declared.get(name) if type(name) is str else None
        ttl = f.get("ttl_ms")
        numeric = (type(ttl) is int or type(ttl) is float) and ttl - ttl == 0
        if not numeric:
            ttl = d[0]["expires_in_s"] * 1000 if d else C.DEFAULT_EXPIRES_S * 1000
        run = Run(rid, name if type(name) is str else "", attempt, now_ms + int(ttl))
        self._remember(run)
        if d is None:
            return [self._fail(run, "unknown_command", "unknown command: %s" % (name,))], None
        try:
            run.params = C.coerce(d[0]["params"], f.get("params"))
        except C.CommandParamError as e:
            return [self._fail(run, "bad_params", e.args[0])], None
        if numeric and ttl <= 0:
            return [self._fail(run, "expired_on_arrival", "the run expired before it arrived")], None
        if d[0]["concurrency"] == "reject" and self._active.get(name) or self.full():
            return [self._fail(run, "busy", "command %s is already running" % name)], None
        run.handler = d[1]
        self._active[name] = self._active.get(name, 0) + 1
        return [self.status(run, ACKNOWLEDGED)], run

    # -- the runtime reports ---------------------------------------------------------

    def started(self, run):
        """The handler is about to be called: the "running" status (None for
        a relayed run: command_result has no such frame)."""
        return None if run.relayed else self.status(run, RUNNING)

    def done(self, job, value=None, exc=None):
        """The handler returned `value` or raised `exc`: the final frame."""
        if not isinstance(job, Run) or job.relayed:
            return self.legacy.done(job, value, exc)
        n = self._active.get(job.command, 0)
        if n > 1:
            self._active[job.command] = n - 1
        else:
            self._active.pop(job.command, None)
        if exc is None:
            return self.status(job, SUCCEEDED, result=_result(value))
        if isinstance(exc, C.Cancelled):
            return self._fail(job, "cancelled", str(exc) or "cancelled")
        return self._fail(job, "handler_error", error_text(exc))

    def unsent(self, text):
        """A frame the runtime could not write. v1 statuses are queued already;
        legacy results are kept (bounded) until after the next auth."""
        if self.legacy is not None:
            self.legacy.unsent(text)

    def after_auth(self, max_frame_bytes=None, store_results=True, protocol=1):
        """A new connection is authenticated: command_sync, then every
        unacknowledged status, then held legacy frames, in that order.
        `protocol` is the commands protocol the gateway said it speaks (0 when
        it said none): below 1 it relays only typed_command, which then runs
        v1 handlers too (command_legacy)."""
        self.relayed = not (type(protocol) is int and protocol >= 1)
        out = self.sync(max_frame_bytes, store_results)
        if self.relayed:
            out = []  # no v1 frames there: statuses stay queued for a gateway that takes them
        if self.legacy is not None:
            out.extend(self.legacy.take_held())
        return out

