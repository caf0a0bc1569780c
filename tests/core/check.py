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
