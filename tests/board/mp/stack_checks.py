"""Nesting checks on a board-sized C stack, inside MicroPython: each check
runs in a thread with an 8 KiB stack, the RP2040's (a recursive walk fails
there at about 14 levels with RuntimeError). (tests/board/test_stack.py)"""

import _thread
import time

# imported (compiled) here, on the main stack: the checks measure the walk only
from plexus_core.commands import json_safe
from plexus_core.points import make_point

STACK = 8192
T = 1760000000000


def on_small_stack(fn, *args):
    """fn(*args) in a thread with STACK bytes of stack: ("ok", value) or
    (exception class name, text)."""
    out = []

    def run():
        try:
            out.append(("ok", fn(*args)))
        except BaseException as e:  # what escapes is the result
            out.append((type(e).__name__, str(e)))

    _thread.stack_size(STACK)
    try:
        _thread.start_new_thread(run, ())
    finally:
        _thread.stack_size(0)
    deadline = time.ticks_add(time.ticks_ms(), 10000)
    while not out:
        assert time.ticks_diff(deadline, time.ticks_ms()) > 0, "the thread did not finish"
        time.sleep_ms(2)
    return out[0]


def nested(levels, kind):
    v = 1
    for _ in range(levels):
        v = [v] if kind == "list" else {"k": v}
    return v


def _recurse(n):
    return 0 if n == 0 else 1 + _recurse(n - 1)


def test_the_stack_is_board_sized():
    # the harness can fail: plain recursion 40 deep does not fit
    assert on_small_stack(_recurse, 10)[0] == "ok"
    assert on_small_stack(_recurse, 40)[0] == "RuntimeError"


def test_events_nested_20_levels_are_accepted():
    for kind in ("list", "dict"):
        r = on_small_stack(make_point, "e", nested(20, kind), T)
        assert r[0] == "ok", r
        assert r[1]["value"] == nested(20, kind)


def test_too_deep_events_raise_value_error():
    for levels in (33, 40, 200):
        for kind in ("list", "dict"):
            r = on_small_stack(make_point, "e", nested(levels, kind), T)
            assert r[0] == "ValueError" and "32 levels" in r[1], (levels, kind, r)


def test_command_results_too_deep_raise_value_error():
    assert on_small_stack(json_safe, nested(20, "dict"))[0] == "ok"
    r = on_small_stack(json_safe, nested(40, "list"))
    assert r[0] == "ValueError", r
