"""A board without networking (a Pico without Wi-Fi has no socket module):
the client buffers on flash, and poll()/close() report the outage instead
of failing. Run with the network modules made unimportable, inside
MicroPython. (tests/board/test_offline.py)"""

import builtins
import sys
import time

NETWORK = ("socket", "select", "ssl", "tls", "network")
_real_import = builtins.__import__


def _no_network(name, *args):
    if name in NETWORK:
        raise ImportError("no module named '%s'" % name)
    return _real_import(name, *args)


builtins.__import__ = _no_network

from plexus_board.client import Plexus  # noqa: E402  (after the network is gone)

STORE = "/tmp/plexus-offline-%d" % time.ticks_us()


def _network_loaded():
    return [m for m in NETWORK if m in sys.modules]


def test_buffers_offline_and_keeps_readings_for_the_next_start():
    for transport in ("ws", "http"):
        store = STORE + "-" + transport
        px = Plexus("plx_test", "offline-board", "http://192.168.1.10:8080",
                    transport=transport, store=store, timeout=1)
        for i in range(20):
            px.send("temp", 20 + i)
        px.event("boot", {"depth": [[1]]})
        px.persist()
        assert px.buffer_size() == 21
        assert _network_loaded() == [], _network_loaded()
        px.poll()  # an outage, not an error: readings wait
        assert "network" in (px.last_error or ""), px.last_error
        assert px.flush(1) is False
        px.close()
        assert _network_loaded() == [], _network_loaded()
        again = Plexus("plx_test", "offline-board", "http://192.168.1.10:8080",
                       transport=transport, store=store, timeout=1)
        assert again.buffer_size() == 21
        again.close()
