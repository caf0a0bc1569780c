"""Checking a protocol v1 declaration (docs/protocol.md §4.11) once, when it is
made: declare() returns the device_auth manifest entry or raises
CommandDeclarationError naming the command, the field, the rule and the fix.
(Apart from commands.py so each module compiles in a small heap.)
"""

from plexus_core.commands import (CONCURRENCY, DANGER, MAX_ENUM, MAX_EXPIRES_S, MAX_PARAMS,
                                  MIN_EXPIRES_S, NAME_RULE, TYPES, DEFAULT_EXPIRES_S,
                                  CommandDeclarationError, CommandParamError, _check, _num, is_name)

_COMMON = ("type", "title", "description", "default", "required")
_EXTRA = {"string": ("maxLength", "enum"), "integer": ("minimum", "maximum", "unit"),
          "number": ("minimum", "maximum", "unit"), "boolean": ()}


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
