"""Legacy commands (docs/protocol.md §4.10): typed_command -> command_result.

The ack goes out at once for every command, known or not (as plexus-python
does); then a result or an error. Frames have no acknowledgement, so the
runtime hands back those it could not write (unsent()) and they are sent
after the next auth instead of being lost. CommandBook owns this.

A gateway that relays only typed_command (it did not say `protocol: 1` when
it authenticated the device) still reaches `@px.command` handlers: the
params are checked as declared, the relay's own `source_id` param is
dropped unless the command declares one, and the handler runs as a v1 run
(handler(run, **params)) answered with command_result. There is no run id,
so nothing is redelivered or expired; `concurrency="reject"` still holds.
"""

import json

from plexus_core.commands import (CONCURRENCY, Cancelled, CommandDeclarationError,
                                  CommandParamError, coerce, json_safe)
from plexus_core.command_status import Run, _result, error_text

MAX_HELD = 64


class Call:
    """One typed_command to run: handler(command, params)."""

    def __init__(self, call_id, command, params, handler):
        self.id = call_id
        self.command = command
        self.params = params
        self.handler = handler


class LegacyCommands:
    def __init__(self, active, full=lambda: False):
        self.handlers = {}       # name -> [entry, handler, concurrency]
        self.dropped = 0         # held frames dropped as the hold was full
        self._active = active    # shared with CommandBook: name -> calls running
        self._held = []
        self._full = full        # True when no more handlers may run

    def on_command(self, name, handler, description=None, params=None, concurrency="accept"):
        E = CommandDeclarationError
        if type(name) is not str or not name:
            raise E("command name must be a non-empty string, got %r" % (name,))
        if concurrency not in CONCURRENCY:
            raise E("command %r: concurrency must be 'accept' or 'reject', got %r" % (name, concurrency))
        entry = {"name": name}
        if description is not None:
            entry["description"] = str(description)
        if params is not None:
            entry["params"] = params
        self.handlers[name] = [entry, handler, concurrency]
        return entry

    def receive(self, f, declared=None, relayed=False, now_ms=0):
        """One typed_command -> (texts, Call, Run or None). `declared` holds the
        v1 commands (name -> [entry, handler]); `relayed` is True when the
        gateway speaks only legacy commands, so those run from here."""
        cid = f.get("id")
        name = f.get("command")
        if type(cid) is not str or not cid or type(name) is not str:
            return [], None
        texts = [frame(cid, name, "ack")]
        h = self.handlers.get(name)
        d = declared.get(name) if h is None and declared else None
        params = f.get("params")
        if params is None:
            params = {}
        err = None
        if d is not None:
            err, params = _v1_params(name, params, d[0]["params"], relayed)
            reject = d[0]["concurrency"] == "reject"
        elif h is None:
            err = "unknown command: %s" % name
        elif not isinstance(params, dict):
            err = "params must be an object"
        else:
            reject = h[2] == "reject"
        if err is None:
            if reject and self._active.get(name):
                err = "command already in progress: %s" % name
            elif self._full():
                err = "too many commands in progress"
        if err is not None:
            texts.append(frame(cid, name, "error", error=err))
            return texts, None
        self._active[name] = self._active.get(name, 0) + 1
        if h is not None:
            return texts, Call(cid, name, params, h[1])
        return texts, _v1_run(cid, name, params, d, now_ms)

    def done(self, call, value=None, exc=None):
        n = self._active.get(call.command, 0)
        if n > 1:
            self._active[call.command] = n - 1
        else:
            self._active.pop(call.command, None)
        relayed = isinstance(call, Run)
        if exc is not None:
            if not relayed:
                err = str(exc)
            elif isinstance(exc, Cancelled):
                err = "cancelled: %s" % exc if str(exc) else "cancelled"
            else:
                err = error_text(exc)  # as a v1 run reports it
            return frame(call.id, call.command, "error", error=err)
        return frame(call.id, call.command, "result", result=_result(value) if relayed else value)

    def unsent(self, text):
        if json.loads(text).get("type") == "command_result":
            if len(self._held) >= MAX_HELD:
                self._held.pop(0)
                self.dropped += 1
            self._held.append(text)

    def take_held(self):
        out = self._held
        self._held = []
        return out


def _v1_params(name, params, spec, relayed):
    """(error or None, handler kwargs) for a v1 command sent as typed_command."""
    if not relayed:
        return ("%s is a commands v1 command on this device: start it as a run "
                "(plexus command SOURCE %s, or POST /v1/sources/SOURCE/runs)" % (name, name)), None
    if isinstance(params, dict) and "source_id" in params and "source_id" not in spec:
        params = dict(params)  # the relay names its target; not a handler param
        del params["source_id"]
    try:
        return None, coerce(spec, params)
    except CommandParamError as e:
        return "bad params: %s" % e.args[0], None


def _v1_run(cid, name, params, d, now_ms):
    """The Run a relayed v1 command runs as: no statuses, attempt 1."""
    run = Run(cid, name, 1, now_ms + int(d[0]["expires_in_s"] * 1000))
    run.relayed = True
    run.params = params
    run.handler = d[1]
    return run


def frame(cid, command, event, result=None, error=None):
    """A command_result frame: ack, result (None -> {}) or error."""
    f = {"type": "command_result", "id": cid, "command": command, "event": event}
    if event == "result":
        if result is None:
            result = {}
        try:
            result = json_safe(result)
        except (ValueError, TypeError):
            result = {"value": repr(result)[:512]}
        f["result"] = result
    elif event == "error":
        f["error"] = error
    return json.dumps(f, separators=(",", ":"))
