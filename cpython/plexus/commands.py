"""Commands on CPython: `@px.command`, `on_command`, handler threads, serve().

    @px.command(params={"valve": {"type": "integer", "minimum": 1, "maximum": 4}},
                danger="dangerous", expires_in=15, concurrency="reject")
    def open_valve(run, valve):
        run.progress(50, "opening")
        return {"opened": valve}

    px.on_command("set_led", lambda command, params: {"on": params["on"]})  # legacy
    px.serve()          # block until Ctrl-C / SIGTERM / stop_serving() / timeout

The rules and the bookkeeping (declarations, coercion, remembered run ids,
status seq, the unacknowledged queue, command_sync) are plexus_core's
CommandBook; this module plugs it into the sender thread (frames in, frames
out) and runs each handler on its own daemon thread, at most
MAX_RUNNING at once (more are answered `busy`, never a thread each). Frames that cannot be
written while the link is down stay queued and go out after the next auth,
behind command_sync, never lost. Every declaration updates the device_auth
manifest under one lock, so none made before or during a connect is
missed, not even one made while the first connection opens.
"""

import inspect
import logging
import signal
import threading
import time

from plexus_core.command_runs import CommandBook
from plexus_core.command_status import Run
from plexus_core.command_decl import declare
from plexus_core.commands import (Cancelled, CommandDeclarationError, CommandParamError,
                                  DEFAULT_EXPIRES_S)
from plexus.config import say

__all__ = ["CommandRun", "Cancelled", "CommandDeclarationError", "CommandParamError"]

log = logging.getLogger("plexus")

MAX_RUNNING = 32


def _now_ms():
    return int(time.monotonic() * 1000)


class CommandRun:
    """What a v1 handler gets as its first argument."""

    def __init__(self, commands, run):
        self._commands = commands
        self._run = run

    @property
    def id(self):
        return self._run.id

    @property
    def command(self):
        return self._run.command

    @property
    def attempt(self):
        """1 on first delivery; higher when the gateway redelivered the run."""
        return self._run.attempt

    @property
    def params(self):
        return dict(self._run.params or {})

    @property
    def time_remaining(self):
        """Seconds until the run expires (on the monotonic clock); 0 when past.
        Informational: the handler decides whether to stop."""
        return self._run.remaining_ms(_now_ms()) / 1000.0

    def progress(self, percent, message=None):
        """Report 0-100 % done. At most one a second goes out (100 always);
        returns True when this one was sent."""
        return self._commands._progress(self._run, percent, message)

    def __repr__(self):
        return "CommandRun(id=%r, command=%r, attempt=%d)" % (self.id, self.command, self.attempt)


class Commands:
    def __init__(self, sender, alerts, max_running=MAX_RUNNING):
        self._sender = sender
        self._alerts = alerts
        self._book = CommandBook(max_active=max_running)
        self._lock = threading.Lock()          # the book, and the order frames are written in
        self._declare_lock = threading.Lock()  # manifest updates reach the sender in order
        self._serving = None
        sender.on_command = self._frame
        sender.on_authenticated = self._authenticated

    # -- declarations (any thread) ----------------------------------------------------

    def command(self, name=None, params=None, danger="normal", idempotent=False,
                expires_in=DEFAULT_EXPIRES_S, concurrency="accept", title=None, description=None):
        """Decorator declaring a protocol v1 command; checked at once
        (CommandDeclarationError). The name defaults to the function's."""
        if callable(name):  # bare @px.command
            fn, name = name, None
            return self.command()(fn)

        def decorate(fn):
            self.declare(fn, name or getattr(fn, "__name__", None), params=params, danger=danger,
                         idempotent=idempotent, expires_in=expires_in, concurrency=concurrency,
                         title=title, description=description)
            return fn
        return decorate

    def declare(self, handler, name, params=None, danger="normal", idempotent=False,
                expires_in=DEFAULT_EXPIRES_S, concurrency="accept", title=None, description=None):
        if not callable(handler):
            raise CommandDeclarationError("command %r: the handler must be callable, got %s"
                                          % (name, type(handler).__name__))
        kw = dict(params=params, danger=danger, idempotent=idempotent, expires_in_s=expires_in,
                  concurrency=concurrency, title=title, description=description)
        _check_signature(handler, declare(name, **kw))  # before it replaces anything
        with self._declare_lock:
            with self._lock:
                entry = self._book.declare(handler, name, **kw)
                manifest = list(self._book.manifest() or ())
            self._sender.set_commands(manifest)
        return entry

    def on_command(self, name, handler, description=None, params=None, concurrency="accept"):
        """Legacy command: handler(command, params) on a thread; its return
        value is the result, an exception the error (docs/protocol.md §4.10)."""
        if not callable(handler):
            raise CommandDeclarationError("command %r: the handler must be callable" % (name,))
        with self._lock:
            return self._book.on_command(name, handler, description, params, concurrency)

    @property
    def declared(self):
        with self._lock:
            return sorted(self._book.declared)

    @property
    def unacknowledged(self):
        """Statuses the gateway has not acknowledged and legacy results not
        yet written: kept, and replayed after the next auth."""
        with self._lock:
            return self._book.pending()

    # -- serving ---------------------------------------------------------------------

    def serve(self, timeout=None):
        """Block, answering commands, until stop_serving(), SIGINT/SIGTERM
        (when called from the main thread) or `timeout` seconds. Commands are
        answered whether or not serve() runs; it keeps a script alive.
        Returns True when stopped, False when the timeout ran out."""
        stop = threading.Event()
        self._serving = stop
        restore = _install_signals(stop)
        try:
            with self._lock:
                n = len(self._book.declared) + len(self._book.legacy.handlers if self._book.legacy else ())
            say("serving %d command%s as %s (Ctrl-C to stop)"
                % (n, "" if n == 1 else "s", self._sender.settings.source_id))
            deadline = None if timeout is None else time.monotonic() + timeout
            while not stop.is_set():
                left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
                if left <= 0:
                    return False
                stop.wait(left)
            return True
        finally:
            restore()
            self._serving = None

    def stop_serving(self):
        stop = self._serving
        if stop is not None:
            stop.set()

    # -- the sender thread ----------------------------------------------------------------

    def _frame(self, f):
        with self._lock:
            texts, job = self._book.receive(f, _now_ms())
            self._write(texts)
        if job is not None:
            self._start(job)

    def _authenticated(self):
        s = self._sender.session
        with self._lock:
            self._write(self._book.after_auth(s.max_frame_bytes, s.store_results, s.protocol))

    def _write(self, texts):
        """Write frames in order (the lock is held); the rest wait for the next auth."""
        for i, text in enumerate(texts):
            if not self._sender.send_control(text):
                for t in texts[i:]:
                    self._book.unsent(t)
                return

    # -- handler threads ---------------------------------------------------------------

    def _start(self, job):
        t = threading.Thread(target=self._work, args=(job,), daemon=True,
                             name="plexus-command-%s" % job.command)
        try:
            t.start()
        except RuntimeError as e:
            self._finish(job, None, RuntimeError("failed to start command handler: %s" % e))

    def _work(self, job):
        value = exc = None
        try:
            if isinstance(job, Run):
                with self._lock:
                    text = self._book.started(job)  # None for a relayed run
                    if text is not None:
                        self._write([text])
                value = job.handler(CommandRun(self, job), **job.params)
            else:
                value = job.handler(job.command, job.params)
        except BaseException as e:  # reported as the run's error; the client lives on
            exc = e
            if not isinstance(e, Cancelled):
                log.warning("command %s failed: %s", job.command,
                            self._alerts.redact("%s: %s" % (type(e).__name__, e)))
        self._finish(job, value, exc)

    def _finish(self, job, value, exc):
        with self._lock:
            self._write([self._book.done(job, value, exc)])

    def _progress(self, run, percent, message):
        with self._lock:
            text = self._book.progress(run, percent, message, _now_ms())
            if text is None:
                return False
            return self._sender.send_control(text)


def _check_signature(fn, entry):
    """A v1 handler is called as handler(run, **params): check it can be."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # builtins and the like: found out at the first run
    params = entry["params"]
    required = {p: None for p in params if params[p]["required"]}
    for kwargs in (dict.fromkeys(params), required):
        try:
            sig.bind(None, **kwargs)
        except TypeError as e:
            raise CommandDeclarationError(
                "command %r: the handler must accept (run%s): %s"
                % (entry["name"], "".join(", " + p for p in params), e)) from None


def _install_signals(stop):
    """SIGINT/SIGTERM end serve() (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {}

    def handler(signum, frame):
        stop.set()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):
            pass

    def restore():
        for sig, h in old.items():
            try:
                signal.signal(sig, h)
            except (ValueError, OSError):
                pass
    return restore
