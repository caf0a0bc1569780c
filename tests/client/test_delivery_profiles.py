"""Delivery against both gateway kinds: ours (acknowledges, dedups by batch
id) and the hosted profile (no acks, no dedup, a silent 0.5 ms per-source
drop). Nothing is lost on either; nothing is doubled where the gateway
dedups. The frozen-then-killed case: SIGSTOP 1 s with frames in flight,
then SIGKILL, then a restart."""

import signal
import threading
import time

import pytest

from plexus import Plexus
from support.gateway import HOSTED, check_delivered
from util import wait_for


def client(gw, source, transport):
    return Plexus(api_key=gw.key, source_id=source, ws_url=gw.ws_url, gateway_url=gw.url,
                  transport=transport)


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_a_backlog_is_delivered_whole_and_flush_says_so(any_gateway, transport, tmp_path):
    gw = any_gateway
    gw.stop()
    px = client(gw, "backlog-" + transport, transport)
    try:
        for i in range(5000):
            px.send("seq", i)
        assert px.flush_buffer(timeout=1) is False  # nothing confirmed: the gateway is down
        gw.start()
        assert px.flush_buffer(timeout=120) is True
        assert px.buffer_size() == 0
        check_delivered(gw, "backlog-" + transport, 5000)
        if gw.profile == HOSTED and transport == "ws":
            # the WebSocket stays up for commands while /ingest carries telemetry
            wait_for(lambda: px.connected, what="the WebSocket")
            px.send("seq", 5000)
            assert px.flush_buffer(timeout=60) is True and px.connected
    finally:
        px.close()


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_a_gateway_frozen_then_killed_loses_nothing(any_gateway, transport):
    gw = any_gateway
    source = "freeze-" + transport
    px = client(gw, source, transport)
    n = 2000
    sent = threading.Event()

    def sender():
        for i in range(n):
            px.send("seq", i)
            if i % 20 == 0:
                time.sleep(0.001)  # readings keep coming while the gateway is frozen
        sent.set()

    t = threading.Thread(target=sender)
    t.start()
    try:
        wait_for(lambda: gw.count(source) >= 200, what="delivery under way")
        gw.proc.send_signal(signal.SIGSTOP)
        time.sleep(1.0)  # the freeze itself (the scenario, not a wait for anything)
        gw.kill()        # SIGKILL while stopped: whatever it held in memory is gone
        t.join()
        gw.start()
        wait_for(lambda: px.buffer_size() == 0, timeout=180, what="everything confirmed")
        check_delivered(gw, source, n)
    finally:
        t.join()
        px.close()


def test_the_client_says_when_it_loses_the_link_and_when_it_is_back(any_gateway, capfd, monkeypatch):
    monkeypatch.setenv("PLEXUS_QUIET", "")
    gw = any_gateway
    px = client(gw, "says-1", "ws")
    try:
        wait_for(lambda: px.connected, what="connected")
        gw.kill()
        wait_for(lambda: "lost the link" in capfd.readouterr().err, what="the line about the loss")
        gw.start()
        px.send("seq", 1)
        assert px.flush_buffer(timeout=60) is True
        seen = []  # the line comes from the sender thread: it may follow the flush by a moment
        wait_for(lambda: seen.append(capfd.readouterr().err) or "is back" in "".join(seen),
                 what="the line about the return")
        assert "lost the link" not in "".join(seen)  # once per change, not per retry
    finally:
        px.close()
