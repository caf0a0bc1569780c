"""Command declarations and param coercion (docs/protocol.md §4.11)."""

from check import message, raises
from plexus_core import commands as C
from plexus_core.command_decl import declare

VALVE = {"valve": {"type": "integer", "minimum": 1, "maximum": 4, "required": True},
         "note": {"type": "string", "maxLength": 40, "required": False}}


def test_spec_example_entry():
    e = declare("open_valve", VALVE, danger="dangerous", expires_in_s=15,
                  concurrency="reject", title="Open valve")
    assert e == {"name": "open_valve", "danger": "dangerous", "idempotent": False,
                 "expires_in_s": 15.0, "concurrency": "reject", "title": "Open valve",
                 "params": {"valve": {"type": "integer", "minimum": 1, "maximum": 4, "required": True},
                            "note": {"type": "string", "maxLength": 40, "required": False}}}
    assert type(e["expires_in_s"]) is float


def test_defaults_and_explicit_required():
    e = declare("reboot")
    assert e["params"] == {} and e["danger"] == "normal" and e["idempotent"] is False
    assert e["expires_in_s"] == 30.0 and e["concurrency"] == "accept"
    assert "title" not in e and "description" not in e
    p = declare("x", {"a": {"type": "boolean"}, "b": {"type": "number", "default": 2.5},
                        "c": {"type": "string", "required": False}})["params"]
    assert p["a"]["required"] is True
    assert p["b"]["required"] is False and p["b"]["default"] == 2.5
    assert p["c"]["required"] is False


def test_names():
    assert C.is_name("a") and C.is_name("set_led_2") and C.is_name("a" * 64)
    for bad in ("", "A", "1a", "_a", "a-b", "a.b", "a" * 65, "é", None, 3):
        assert not C.is_name(bad), bad
        e = raises(C.CommandDeclarationError, declare, bad)
        assert "^[a-z]" in message(e)
    e = raises(C.CommandDeclarationError, declare, "ok", {"Bad": {"type": "string"}})
    assert "Bad" in message(e)


def test_declaration_fields():
    E = C.CommandDeclarationError
    assert "danger" in message(raises(E, declare, "a", danger="risky"))
    assert "idempotent" in message(raises(E, declare, "a", idempotent=1))
    for bad in (4.9, 3601, True, "30", float("nan")):
        assert "expires_in" in message(raises(E, declare, "a", expires_in_s=bad))
    assert declare("a", expires_in_s=5)["expires_in_s"] == 5.0
    assert declare("a", expires_in_s=3600)["expires_in_s"] == 3600.0
    assert "concurrency" in message(raises(E, declare, "a", concurrency="queue"))
    assert "title" in message(raises(E, declare, "a", title=5))
    assert "params" in message(raises(E, declare, "a", [{"name": "x"}]))
    many = {}
    for i in range(17):
        many["p%d" % i] = {"type": "boolean"}
    assert "16" in message(raises(E, declare, "a", many))


def test_param_specs():
    E = C.CommandDeclarationError
    bad = [
        {"type": "float"},                                   # unknown type
        {"type": "boolean", "minimum": 0},                   # field of another type
        {"type": "string", "maxLength": 0},
        {"type": "string", "maxLength": True},
        {"type": "string", "enum": []},
        {"type": "string", "enum": ["a", 1]},
        {"type": "integer", "minimum": 5, "maximum": 1},
        {"type": "number", "minimum": "0"},
        {"type": "number", "unit": 3},
        {"type": "integer", "required": "yes"},
        {"type": "integer", "default": 1, "required": True},  # required + default
        {"type": "integer", "default": 1.5},                 # default of another type
        {"type": "integer", "default": True},
        {"type": "boolean", "default": 0},
        {"type": "integer", "minimum": 2, "default": 1},     # default breaks the range
        {"type": "string", "enum": ["a"], "default": "b"},
        {"type": "string", "maxLength": 2, "default": "abc"},
        "integer",
    ]
    for spec in bad:
        raises(E, declare, "a", {"p": spec})
    ok = declare("a", {"p": {"type": "string", "enum": ("x", "y"), "default": "y",
                               "title": "P", "description": "d"}})["params"]["p"]
    assert ok == {"type": "string", "enum": ["x", "y"], "default": "y", "required": False,
                  "title": "P", "description": "d"}
    assert issubclass(E, ValueError) and issubclass(C.CommandParamError, ValueError)


SPEC = declare("t", {"n": {"type": "integer", "minimum": 1, "maximum": 4},
                       "x": {"type": "number", "maximum": 10, "default": 1},
                       "b": {"type": "boolean", "required": False},
                       "s": {"type": "string", "enum": ["on", "off"], "required": False}})["params"]


def test_coerce_fills_defaults_and_omits_optional():
    assert C.coerce(SPEC, {"n": 2}) == {"n": 2, "x": 1}
    assert C.coerce(SPEC, {"n": 2, "x": None, "b": None}) == {"n": 2, "x": 1}
    assert C.coerce(SPEC, {"n": 3, "b": True, "s": "on", "x": 2}) == {"n": 3, "x": 2.0, "b": True, "s": "on"}


def test_coerce_types():
    c = lambda **kw: C.coerce(SPEC, dict(kw, n=kw.get("n", 1)))
    assert c(n="3")["n"] == 3 and c(n=4.0)["n"] == 4 and type(c(n=4.0)["n"]) is int
    assert c(n=" 2 ")["n"] == 2 and c(n="2.0")["n"] == 2
    r = c(x="2.5")["x"]
    assert r == 2.5 and type(r) is float
    assert type(c(x=3)["x"]) is float
    for v, want in ((True, True), (False, False), (" TRUE ", True), ("false", False), (0, False), (1, True)):
        assert c(b=v)["b"] is want, v


def test_coerce_rejects():
    P = C.CommandParamError
    bad = [None, [], "x", 5]
    for raw in bad[1:]:
        assert "object" in message(raises(P, C.coerce, SPEC, raw))
    assert C.coerce({}, None) == {}
    assert "n" in message(raises(P, C.coerce, SPEC, {}))                 # required
    assert "zz" in message(raises(P, C.coerce, SPEC, {"n": 1, "zz": 1}))   # unknown key
    for v in (True, "two", 2.5, "2.5", float("nan"), 0, 5, [1]):
        raises(P, C.coerce, SPEC, {"n": v})
    for v in (True, "x", float("inf"), "nan", 11):
        raises(P, C.coerce, SPEC, {"n": 1, "x": v})
    for v in (2, "yes", 0.5, "1"):
        raises(P, C.coerce, SPEC, {"n": 1, "b": v})
    raises(P, C.coerce, SPEC, {"n": 1, "s": "maybe"})
    raises(P, C.coerce, SPEC, {"n": 1, "s": 1})
    long = declare("l", {"t": {"type": "string", "maxLength": 3}})["params"]
    assert C.coerce(long, {"t": "abc"}) == {"t": "abc"}
    assert "3" in message(raises(P, C.coerce, long, {"t": "abcd"}))
