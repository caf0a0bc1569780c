"""plexus_core: the dependency-free heart of the Plexus SDK, shared by both
runtimes.

Runs unchanged on MicroPython (ESP32, Pico W, unix port) and CPython: the
point model, source ids, the clock, backoff, encoding, the device session
and the delivery policy, all plain logic without I/O. The board runtime
(flash log, sockets, the board client) is plexus_board.
"""

__version__ = "0.1.0"


def forget(name):
    """Drop a module used once (setup, a handshake, recovery) so its code
    leaves a board's heap; a later import loads it again. name: its full
    name, e.g. "plexus_board.settings"."""
    import sys
    sys.modules.pop(name, None)
    i = name.rfind(".")
    parent = sys.modules.get(name[:i]) if i > 0 else None
    if parent is not None and name[i + 1:] in parent.__dict__:
        delattr(parent, name[i + 1:])
