"""Command declarations (docs/protocol.md §4.11): the rules, checked once.

plexus_core.command_decl.declare() validates a protocol v1 declaration when
it is made and returns its device_auth manifest entry; coerce()
turns the params of a command_run into a handler's keyword arguments.
Both raise ValueError subclasses that name the command, the field, the
rule and the fix. What happens to a run
afterwards (ids, statuses, acks) is in plexus_core.command_runs.
"""


class CommandDeclarationError(ValueError):
    """A command declaration breaks a protocol v1 rule (raised when declared)."""


class CommandParamError(ValueError):
    """The params of a run do not fit the declaration (reported as bad_params)."""


class Cancelled(Exception):
    """Raise from a handler to end its run as failed/cancelled."""


DANGER = ("normal", "dangerous", "critical")
CONCURRENCY = ("accept", "reject")
TYPES = ("string", "integer", "number", "boolean")
MAX_NAME = 64
MAX_PARAMS = 16
MAX_ENUM = 64
MIN_EXPIRES_S = 5
MAX_EXPIRES_S = 3600
DEFAULT_EXPIRES_S = 30.0

NAME_RULE = "^[a-z][a-z0-9_]{0,63}$ (a lowercase letter, then lowercase letters, digits or _)"


def is_name(s):
    """Command and param names; a loop, as MicroPython's re has no {m,n}."""
    if type(s) is not str or not 0 < len(s) <= MAX_NAME or not "a" <= s[0] <= "z":
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "_"):
            return False
    return True


def _finite(x):
    return x - x == 0  # NaN and inf fail (inf - inf is NaN)


def json_safe(v):
    """A result as plain JSON types (tuples become lists), or ValueError for
    NaN/inf, bytes, non-str keys and other objects. (points._check_json
    does this for readings; a copy here keeps command modules off points.)
    An explicit stack, never recursion: a board's C stack is small."""
    top = [None]
    stack = [(top, 0, v, 0)]  # (container to fill, key or index, value, depth)
    while stack:
        into, at, v, depth = stack.pop()
        if depth > 32:
            raise ValueError("nested too deep")
        v = _json_leaf(v)
        if isinstance(v, dict):
            out = {}
            for k in v:
                if type(k) is not str:
                    raise ValueError("non-string key")
                out[k] = None
                stack.append((out, k, v[k], depth + 1))
            v = out
        elif isinstance(v, (list, tuple)):
            out = [None] * len(v)
            for i in range(len(v)):
                stack.append((out, i, v[i], depth + 1))
            v = out
        into[at] = v
    return top[0]


def _json_leaf(v):
    for _ in (0, 1):  # again for what a numpy scalar's .item() gave
        if v is None or v is True or v is False or type(v) is str or type(v) is int:
            return v
        if type(v) is float:
            if _finite(v):
                return v
            raise ValueError("not finite")
        if isinstance(v, (dict, list, tuple)):
            return v
        item = getattr(v, "item", None)  # numpy scalars
        if item is None or isinstance(v, (bytes, bytearray, str)):
            break
        u = item()
        if u is v or type(u) not in (int, float, bool, str):
            break
        v = u
    raise ValueError("not JSON")


def _num(v):
    return (type(v) is int or type(v) is float) and _finite(v)


def coerce(spec, raw):
    """Params of a run -> handler kwargs, per the declared `spec` (the
    manifest entry's "params"). Raises CommandParamError naming the param."""
    P = CommandParamError
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise P("params must be an object, got %s" % type(raw).__name__)
    for k in raw:
        if k not in spec:
            raise P("unknown param %r (declared: %s)" % (k, ", ".join(sorted(spec)) or "none"))
    out = {}
    for name in spec:
        s = spec[name]
        v = raw.get(name)
        if v is None:  # null means missing
            if "default" in s:
                out[name] = s["default"]
            elif s["required"]:
                raise P("param %r is required" % name)
            continue
        v = _coerce(s["type"], v, name)
        _check(s, v, name)
        out[name] = v
    return out


def _coerce(t, v, name):
    P = CommandParamError
    if t == "boolean":
        if v is True or v is False:
            return v
        if type(v) is str:
            s = v.strip().lower()
            if s == "true" or s == "false":
                return s == "true"
        elif type(v) is int and (v == 0 or v == 1):
            return v == 1
        raise P("param %r must be a boolean (true/false, \"true\"/\"false\" or 0/1), got %r"
                % (name, v))
    if t == "string":
        if type(v) is str:
            return v
        raise P("param %r must be a string, got %r" % (name, v))
    if v is True or v is False:
        raise P("param %r must be a number, not a boolean" % name)
    if type(v) is str:
        v = _parse_number(v)
    if not _num(v):
        raise P("param %r must be a finite %s, got %r" % (name, t, v))
    if t == "number":
        return float(v)
    if type(v) is float:
        if v != int(v):
            raise P("param %r must be a whole number, got %r" % (name, v))
        return int(v)
    return v


def _parse_number(s):
    s = s.strip()
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


def _check(s, v, name):
    P = CommandParamError
    lo = s.get("minimum")
    if lo is not None and v < lo:
        raise P("param %r is %r, below the minimum %r" % (name, v, lo))
    hi = s.get("maximum")
    if hi is not None and v > hi:
        raise P("param %r is %r, above the maximum %r" % (name, v, hi))
    e = s.get("enum")
    if e is not None and v not in e:
        raise P("param %r is %r; allowed: %s" % (name, v, ", ".join(e)))
    m = s.get("maxLength")
    if m is not None and len(v) > m:
        raise P("param %r is %d characters; the limit is %d" % (name, len(v), m))
