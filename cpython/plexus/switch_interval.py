"""How often the interpreter hands its lock between threads while a client runs.

A client's delivery threads (the committer and the sender) block on disk and
sockets many times per batch. After each, Python makes them wait for the lock
until the thread holding it gives it up, which a busy application thread does
only once per switch interval (5 ms by default). Readings then leave only when
the application pauses, and a WebSocket handshake, which websocket-client
reads a byte at a time, took a second. So while any client is open the
interval is at most 1 ms (as in the gateway, gateway/server.py), during a
handshake at most 0.1 ms, and the application's own interval comes back when
the last client closes.
"""

import contextlib
import sys
import threading

CLIENT_S = 0.001
HANDSHAKE_S = 0.0001

_lock = threading.Lock()
_held = {}       # token -> the interval its holder asked for
_saved = [None]  # the interval before the first hold


def hold(interval_s):
    """Keep the switch interval at most `interval_s` until release(token)."""
    token = object()
    with _lock:
        if not _held:
            _saved[0] = sys.getswitchinterval()
        _held[token] = interval_s
        _apply()
    return token


def release(token):
    with _lock:
        if _held.pop(token, None) is not None:
            _apply()


def _apply():
    """The shortest interval asked for, never above the application's own (under _lock)."""
    sys.setswitchinterval(min([_saved[0]] + list(_held.values())))


@contextlib.contextmanager
def briefly(interval_s):
    token = hold(interval_s)
    try:
        yield
    finally:
        release(token)
