"""Commands on a board: the same decorator and on_command as CPython, with
handlers run inline from poll() (no threads), so one runs at a time.

The board client makes one BoardCommands at the first @px.command or
px.on_command (plexus_board.command_calls) and gives it to its WebSocket
link, which hands it its I/O:

    cmds = BoardCommands(mono_ms)             # mono_ms(): monotonic ms
    session.commands = cmds.manifest()        # before start(); reconnect if it changes
    for ev in session.receive(text, now):     # from poll()
        if ev[0] == COMMAND:
            cmds.frame(ev[1], write)          # write(text) -> True when sent
    cmds.authenticated(session, write)        # after each AUTHENTICATED event

Run ids live in a fixed ring and unacknowledged statuses in a bounded queue
(plexus_core.command_runs), so memory stays bounded however many runs come.
"""

from plexus_core.command_runs import CommandBook
from plexus_core.command_status import Run
from plexus_core.commands import DEFAULT_EXPIRES_S


class BoardRun:
    """What a v1 handler gets first: id, command, attempt, time_remaining, progress()."""

    def __init__(self, owner, run, write):
        self._owner = owner
        self._run = run
        self._write = write
        self.id = run.id
        self.command = run.command
        self.attempt = run.attempt

    @property
    def time_remaining(self):
        """Seconds until the run expires; 0 when past (informational)."""
        return self._run.remaining_ms(self._owner.mono_ms()) / 1000

    def progress(self, percent, message=None):
        text = self._owner.book.progress(self._run, percent, message, self._owner.mono_ms())
        return text is not None and self._owner._send(text, self._write)


class BoardCommands:
    def __init__(self, mono_ms, remember=256, max_queued=256):
        self.mono_ms = mono_ms
        self.book = CommandBook(remember, max_queued, max_active=1)
        self.changed = False     # the manifest changed since the client last read it

    def command(self, name=None, params=None, danger="normal", idempotent=False,
                expires_in=DEFAULT_EXPIRES_S, concurrency="accept", title=None, description=None):
        """@px.command decorator; a bad declaration raises CommandDeclarationError."""
        if callable(name):  # bare @px.command
            return self.command()(name)

        def decorate(fn):
            self.book.declare(fn, name or fn.__name__, params=params, danger=danger,
                              idempotent=idempotent, expires_in_s=expires_in,
                              concurrency=concurrency, title=title, description=description)
            self.changed = True
            return fn
        return decorate

    def on_command(self, name, handler, description=None, params=None, concurrency="accept"):
        return self.book.on_command(name, handler, description, params, concurrency)

    def manifest(self):
        self.changed = False
        return self.book.manifest()

    def frame(self, f, write):
        """A COMMAND frame from the session: answer it, running any handler now."""
        texts, job = self.book.receive(f, self.mono_ms())
        self._send_all(texts, write)
        if job is not None:
            self._run(job, write)

    def _run(self, job, write):
        value = exc = None
        try:
            if isinstance(job, Run):
                text = self.book.started(job)
                if text is not None:
                    self._send(text, write)
                value = job.handler(BoardRun(self, job, write), **job.params)
            else:
                value = job.handler(job.command, job.params)
        except Exception as e:  # reported as the run's error; the loop goes on
            exc = e
        self._send(self.book.done(job, value, exc), write)

    def authenticated(self, session, write):
        """After each auth: command_sync, then the statuses still owed."""
        self._send_all(self.book.after_auth(session.max_frame_bytes, session.store_results,
                                            session.protocol), write)

    def _send(self, text, write):
        try:
            ok = write(text)
        except OSError:
            ok = False
        if not ok:
            self.book.unsent(text)
        return ok

    def _send_all(self, texts, write):
        for i in range(len(texts)):
            if not self._send(texts[i], write):
                for t in texts[i + 1:]:
                    self.book.unsent(t)
                return False
        return True
