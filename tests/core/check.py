"""Tiny assertion helpers that work on CPython and MicroPython alike."""


def raises(exc, fn, *args, **kwargs):
    """Assert fn(*args, **kwargs) raises exc; return the exception."""
    try:
        fn(*args, **kwargs)
    except exc as e:
        return e
    raise AssertionError("%s did not raise %s" % (getattr(fn, "__name__", fn), exc.__name__))


def message(e):
    """Exception text (never asserted exactly on MicroPython, only searched)."""
    return str(e.args[0]) if e.args else ""


# ESP32 and RP2040 firmware use single-precision floats (a 24-bit mantissa):
# 2**24 + 1 is the first int such a float cannot hold.
SINGLE_PRECISION = float(16777217) == 16777216.0


class Skip(Exception):
    """A test that cannot run on this interpreter (tests/micropython/run.py
    reports it as skipped, with the reason)."""


def skip(reason):
    try:
        import pytest
    except ImportError:  # MicroPython: the runner catches Skip
        raise Skip(reason)
    pytest.skip(reason)


def needs_double(why):
    """Skip the calling test on a single-precision build, saying why."""
    if SINGLE_PRECISION:
        skip("needs double-precision floats: " + why)
