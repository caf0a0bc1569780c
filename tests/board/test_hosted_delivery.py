"""The board client inside the real MicroPython against both gateway kinds:
ours (acknowledges, dedups by batch id) and the hosted profile (no acks, no
dedup, a silent 0.5 ms per-source drop). A backlog, a restart mid-stream,
and a gateway frozen 1 s with readings in flight, then killed: nothing lost
on either; nothing doubled where the gateway dedups."""

import signal
import time

import pytest

from support.gateway import check_delivered
from support.waiting import wait_for
from test_gateway import Device, run


def test_a_5000_reading_backlog_over_the_websocket_arrives_whole(any_gateway, tmp_path):
    gw = any_gateway
    store = str(tmp_path / "flash")
    r = run(tmp_path, "offline", "http://127.0.0.1:9", gw.key, "mpy-backlog", "ws", 5000, store)
    assert r["buffer"] == 5000
    r = run(tmp_path, "resume", gw.url, gw.key, "mpy-backlog", "ws", 0, store)
    assert r["before"] == 5000 and r["flushed"] and r["buffer"] == 0, r
    check_delivered(gw, "mpy-backlog", 5000)


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_a_restart_mid_stream_loses_nothing(any_gateway, tmp_path, transport):
    gw = any_gateway
    src = "mpy-restart-" + transport
    dev = Device(tmp_path, "steady", gw.url, gw.key, src, transport, 1500)
    dev.expect("RUNNING", 120)
    wait_for(lambda: gw.count(src) > 0, what="the first delivery")
    gw.restart()
    r = dev.result()
    assert r["flushed"] and r["buffer"] == 0 and r["evicted"] == 0, r
    check_delivered(gw, src, 1500)


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_a_gateway_frozen_then_killed_loses_nothing(any_gateway, tmp_path, transport):
    gw = any_gateway
    src = "mpy-freeze-" + transport
    dev = Device(tmp_path, "steady", gw.url, gw.key, src, transport, 2000)
    dev.expect("RUNNING", 120)
    wait_for(lambda: gw.count(src) > 0, what="the first delivery")
    gw.proc.send_signal(signal.SIGSTOP)
    time.sleep(1.0)  # the freeze itself (the scenario, not a wait for anything)
    gw.kill()        # SIGKILL while stopped: whatever it held in memory is gone
    gw.start()
    r = dev.result()
    assert r["flushed"] and r["buffer"] == 0 and r["evicted"] == 0, r
    check_delivered(gw, src, 2000)
