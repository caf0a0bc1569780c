"""Command declarations (PROTOCOL.md §4.11): the rules, checked once.

declare() validates a protocol v1 declaration when it is made and returns
its device_auth manifest entry; coerce() turns the params of a command_run
into a handler's keyword arguments. Both raise ValueError subclasses that
name the command, the field, the rule and the fix. What happens to a run
afterwards (ids, statuses, acks) is in plexus_core.command_runs.
"""

from plexus_core.points import _finite


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
_COMMON = ("type", "title", "description", "default", "required")
_EXTRA = {"string": ("maxLength", "enum"), "integer": ("minimum", "maximum", "unit"),
          "number": ("minimum", "maximum", "unit"), "boolean": ()}


def is_name(s):
    """Command and param names; a loop, as MicroPython's re has no {m,n}."""
    if type(s) is not str or not 0 < len(s) <= MAX_NAME or not "a" <= s[0] <= "z":
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "_"):
            return False
    return True


def _num(v):
    return (type(v) is int or type(v) is float) and _finite(v)


def declare(name, params=None, danger="normal", idempotent=False,
            expires_in_s=DEFAULT_EXPIRES_S, concurrency="accept", title=None, description=None):
    """Validate a v1 declaration; returns its manifest entry (a new dict)."""
    E = CommandDeclarationError
    if not is_name(name):
        raise E("command name %r must match %s: rename it" % (name, NAME_RULE))
    at = "command %r" % name
    if danger not in DANGER:
        raise E("%s: danger must be 'normal', 'dangerous' or 'critical', got %r" % (at, danger))
    if idempotent is not True and idempotent is not False:
        raise E("%s: idempotent must be True or False, got %r" % (at, idempotent))
    if not _num(expires_in_s) or not MIN_EXPIRES_S <= expires_in_s <= MAX_EXPIRES_S:
        raise E("%s: expires_in must be %d to %d seconds, got %r"
                % (at, MIN_EXPIRES_S, MAX_EXPIRES_S, expires_in_s))
    if concurrency not in CONCURRENCY:
        raise E("%s: concurrency must be 'accept' or 'reject', got %r" % (at, concurrency))
    entry = {"name": name, "params": {}, "danger": danger, "idempotent": idempotent,
             "expires_in_s": float(expires_in_s), "concurrency": concurrency}
    _text(E, at, "title", title, entry)
    _text(E, at, "description", description, entry)
    if params is not None:
        if not isinstance(params, dict):
            raise E("%s: params must be a dict of name -> spec, like "
                    "{'valve': {'type': 'integer'}}, got %s" % (at, type(params).__name__))
        if len(params) > MAX_PARAMS:
            raise E("%s: %d params declared; the limit is %d" % (at, len(params), MAX_PARAMS))
        for p in params:
            entry["params"][p] = _param(at, p, params[p])
    return entry


def _text(E, at, key, v, out):
    if v is not None:
        if type(v) is not str:
            raise E("%s: %s must be a string, got %s" % (at, key, type(v).__name__))
        out[key] = v


def _param(at, pname, spec):
    E = CommandDeclarationError
    if not is_name(pname):
        raise E("%s: param name %r must match %s" % (at, pname, NAME_RULE))
    at = "%s param %r" % (at, pname)
    if not isinstance(spec, dict):
        raise E("%s: the spec must be a dict like {'type': 'integer'}" % at)
    t = spec.get("type")
    if t not in TYPES:
        raise E("%s: type must be 'string', 'integer', 'number' or 'boolean', got %r" % (at, t))
    extra = _EXTRA[t]
    for k in spec:
        if k not in _COMMON and k not in extra:
            raise E("%s: %r is not a field of a %s param (allowed: %s)"
                    % (at, k, t, ", ".join(_COMMON + extra)))
    out = {"type": t}
    _text(E, at, "title", spec.get("title"), out)
    _text(E, at, "description", spec.get("description"), out)
    _text(E, at, "unit", spec.get("unit"), out)
    m = spec.get("maxLength")
    if m is not None:
        if type(m) is not int or m < 1:
            raise E("%s: maxLength must be an int >= 1, got %r" % (at, m))
        out["maxLength"] = m
    e = spec.get("enum")
    if e is not None:
        if not isinstance(e, (list, tuple)) or not 1 <= len(e) <= MAX_ENUM:
            raise E("%s: enum must be a list of 1 to %d strings" % (at, MAX_ENUM))
        for v in e:
            if type(v) is not str:
                raise E("%s: enum values must be strings, got %r" % (at, v))
        out["enum"] = list(e)
    for k in ("minimum", "maximum"):
        v = spec.get(k)
        if v is not None:
            if not _num(v):
                raise E("%s: %s must be a finite number, got %r" % (at, k, v))
            out[k] = v
    if "minimum" in out and "maximum" in out and out["minimum"] > out["maximum"]:
        raise E("%s: minimum %r is above maximum %r" % (at, out["minimum"], out["maximum"]))
    req = spec.get("required")
    if req is not None and req is not True and req is not False:
        raise E("%s: required must be True or False, got %r" % (at, req))
    if "default" in spec:
        if req is True:
            raise E("%s: a param with a default is optional; drop 'required' or the default" % at)
        d = spec["default"]
        if not _is_type(t, d):
            raise E("%s: default %r is not a %s" % (at, d, t))
        try:
            _check(out, d, pname)
        except CommandParamError as x:
            raise E("%s: default breaks its own rule (%s)" % (at, x.args[0]))
        out["default"] = d
        out["required"] = False
    else:
        out["required"] = req is not False
    return out


def _is_type(t, v):
    if v is True or v is False:
        return t == "boolean"
    if t == "string":
        return type(v) is str
    if t == "integer":
        return type(v) is int
    return t == "number" and _num(v)


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
