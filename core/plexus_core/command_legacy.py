"""Legacy commands (PROTOCOL.md §4.10): typed_command -> command_result.

The ack goes out at once for every command, known or not (as plexus-python
does); then a result or an error. Frames have no acknowledgement, so the
runtime hands back those it could not write (unsent()) and they are sent
after the next auth instead of being lost (P12). CommandBook owns this.
"""

import json

from plexus_core.commands import CONCURRENCY, CommandDeclarationError, json_safe

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

    def receive(self, f):
        cid = f.get("id")
        name = f.get("command")
        if type(cid) is not str or not cid or type(name) is not str:
            return [], None
        texts = [frame(cid, name, "ack")]
        h = self.handlers.get(name)
        params = f.get("params")
        if params is None:
            params = {}
        err = None
        if h is None:
            err = "unknown command: %s" % name
        elif not isinstance(params, dict):
            err = "params must be an object"
        elif h[2] == "reject" and self._active.get(name):
            err = "command already in progress: %s" % name
        elif self._full():
            err = "too many commands in progress"
        if err is not None:
            texts.append(frame(cid, name, "error", error=err))
            return texts, None
        self._active[name] = self._active.get(name, 0) + 1
        return texts, Call(cid, name, params, h[1])

    def done(self, call, value=None, exc=None):
        n = self._active.get(call.command, 0)
        if n > 1:
            self._active[call.command] = n - 1
        else:
            self._active.pop(call.command, None)
        if exc is not None:
            return frame(call.id, call.command, "error", error=str(exc))
        return frame(call.id, call.command, "result", result=value)

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
