"""plexus_core: the dependency-free heart of the Plexus SDK.

Runs unchanged on MicroPython (ESP32, Pico W, unix port) and CPython. Nothing
here does I/O except the board transport modules (http, ws) and the flash log;
the point model, clock, backoff, encoding and device session are plain logic.
"""

__version__ = "0.1.0"


def forget(name):
    """Drop a core module used once (setup, a handshake, recovery) so its
    code leaves a board's heap; a later import loads it again."""
    import sys
    sys.modules.pop("plexus_core." + name, None)
    g = globals()
    if name in g:
        del g[name]
