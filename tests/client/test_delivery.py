"""Nothing lost, nothing doubled: outages, gateway kills, cut links. The
kill and cut-link cases run against both gateway kinds: ours and the hosted
profile (no acks, no batch dedup: there nothing lost, a resend may double)."""

import random
import threading
import time
from collections import Counter

import pytest

from plexus import Plexus
from proxy import TcpProxy
from support.gateway import HOSTED, check_delivered
from util import values, wait_for

def exactly_once(gateway, source, n, metric="seq"):
    """Every reading stored; once and nothing else, where the gateway dedups by batch id."""
    got = check_delivered(gateway, source, n, metric)
    if gateway.profile != HOSTED:
        assert sum(got.values()) == n


def test_send_never_blocks_while_the_gateway_is_down_then_drains_by_itself(gateway, tmp_path):
    gateway.stop()
    px = Plexus(api_key=gateway.key, source_id="down-1", ws_url=gateway.ws_url, timeout=10)
    try:
        slowest = 0.0
        for i in range(3000):
            t = time.perf_counter()
            px.send("seq", i)
            slowest = max(slowest, time.perf_counter() - t)
        # Not a speed target: a call that waited on the network would take seconds.
        assert slowest < 0.5, "send() took %.3f s with the gateway down" % slowest
        wait_for(lambda: px._store.points == 3000, what="readings on disk")
        assert not px.connected and px.buffer_size() == 3000
        gateway.restart()
        # No further send() or flush: the background sender delivers.
        wait_for(lambda: px.buffer_size() == 0, what="backlog delivered")
        exactly_once(gateway, "down-1", 3000)
        assert values(gateway.points("down-1")) == list(range(3000))  # order kept across the outage
    finally:
        px.close()


def test_gateway_sigkill_and_restart_three_times_while_sending(any_gateway):
    gateway = any_gateway
    px = Plexus(api_key=gateway.key, source_id="kill-1", ws_url=gateway.ws_url)
    n = 10000
    sent = threading.Event()

    def sender():
        for i in range(n):
            px.send("seq", i)
            if i % 50 == 0:
                time.sleep(0.001)  # spread the readings over the outages
        sent.set()

    t = threading.Thread(target=sender)
    t.start()
    try:
        for k in range(3):
            wait_for(lambda: gateway.count("kill-1") > 0 and px.connected, what="delivery running")
            gateway.kill()
            gateway.restart()
        t.join()
        assert sent.is_set()
        wait_for(lambda: px.buffer_size() == 0, timeout=120, what="everything acknowledged")
        exactly_once(gateway, "kill-1", n)
        assert px.evicted_points == 0 and px.rejected_points == 0
    finally:
        t.join()
        px.close()


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_links_cut_mid_frame_lose_and_double_nothing(any_gateway, transport):
    gateway = any_gateway
    proxy = TcpProxy(int(gateway.url.rsplit(":", 1)[1]))
    proxy.cut_every(200, 30000)  # every connection dies after 200 B..30 kB, inside a frame
    px = Plexus(api_key=gateway.key, source_id="cut-" + transport, ws_url=proxy.ws_url,
                gateway_url=proxy.url, transport=transport)
    n = 5000
    pad = random.Random(7)  # tags that do not compress: enough bytes for several cuts however fast acks come
    try:
        for i in range(n):
            px.send("seq", i, tags={"pad": "%040x" % pad.getrandbits(160)})
            if i % 100 == 0:
                time.sleep(0.002)
        wait_for(lambda: proxy.cuts >= 5, what="several cuts")
        proxy.cut_every(None, None)
        wait_for(lambda: px.buffer_size() == 0, timeout=180, what="everything acknowledged")
        exactly_once(gateway, "cut-" + transport, n)
    finally:
        px.close()
        proxy.close()


def test_memory_buffer_has_the_same_semantics_and_evicts_oldest_counted(gateway):
    gateway.stop()
    px = Plexus(api_key=gateway.key, source_id="mem-1", ws_url=gateway.ws_url,
                persistent_buffer=False, max_buffer_size=1000)
    try:
        for i in range(3000):
            px.send("seq", i)
        wait_for(lambda: px.evicted_points >= 2000, what="eviction counted")
        assert px.buffer_size() <= 1000
        gateway.restart()
        wait_for(lambda: px.buffer_size() == 0, what="delivered")
        got = values(gateway.points("mem-1"))
        assert got == list(range(3000 - len(got), 3000))  # the newest survive, in order
        assert len(got) + px.evicted_points == 3000
    finally:
        px.close()


def test_batches_stored_but_never_acknowledged_are_resent_and_stored_once(gateway, tmp_path):
    proxy = TcpProxy(int(gateway.url.rsplit(":", 1)[1]))
    px = Plexus(api_key=gateway.key, source_id="noack-1", ws_url=proxy.ws_url, timeout=2)
    try:
        wait_for(lambda: px.connected, what="connected")
        proxy.mute(True)              # the gateway stores, its acks never arrive
        for i in range(1000):
            px.send("seq", i)
        wait_for(lambda: gateway.count("noack-1") == 1000, what="stored")
        assert px.buffer_size() == 1000   # not acknowledged: still on disk
    finally:
        px.close()                    # waits briefly, leaves them on disk
        proxy.close()
    again = Plexus(api_key=gateway.key, source_id="noack-1", ws_url=gateway.ws_url)
    try:
        assert again.buffer_size() == 1000
        assert again.flush_buffer(30)     # resent with the same batch ids
        exactly_once(gateway, "noack-1", 1000)
    finally:
        again.close()


def test_goodbye_brings_a_quick_reconnect_and_a_kill_a_backed_off_one(gateway):
    px = Plexus(api_key=gateway.key, source_id="bye-1", ws_url=gateway.ws_url)
    try:
        wait_for(lambda: px.connected, what="connected")
        gateway.stop()                       # clean shutdown: close 1001 to every device
        wait_for(lambda: not px.connected, what="disconnected")
        wait_for(lambda: px._sender.last_retry_ms is not None, what="retry scheduled")
        assert 100 <= px._sender.last_retry_ms <= 500
        gateway.restart()
        wait_for(lambda: px.connected, what="reconnected")
        gateway.kill()                       # no goodbye: the normal backoff (~1 s first)
        wait_for(lambda: not px.connected, what="disconnected")
        wait_for(lambda: px._sender.last_retry_ms not in (None,) and
                 px._sender.last_retry_ms > 500, what="backoff")
        assert 750 <= px._sender.last_retry_ms <= 1250
        gateway.restart()
        px.send("after", 1)
        assert px.flush_buffer(30)
    finally:
        px.close()


def test_control_and_binary_frames_only_while_connected(gateway):
    gateway.stop()
    px = Plexus(api_key=gateway.key, source_id="ctl-1", ws_url=gateway.ws_url)
    try:
        hb = '{"type":"heartbeat","source_id":"ctl-1","agent_version":"0"}'
        assert px._sender.send_control(hb) is False
        assert px._sender.send_binary(b"\x01") is False
        gateway.restart()
        wait_for(lambda: px.connected, what="connected")
        assert px._sender.send_control(hb) is True
        manifest = [{"name": "set_led", "description": "toggle"}]
        before = px._sender.connections
        px._sender.set_commands(manifest)    # a connection that announced another list reconnects
        wait_for(lambda: px._sender.connections > before, what="re-announced")
        assert px._sender._manifest_sent == manifest and px.connected
    finally:
        px.close()


def test_live_readings_go_out_from_memory_as_committed(gateway):
    """Once connected with nothing waiting, each committed batch is sent
    from what was just written: the store is not read back or rewritten."""
    px = Plexus(api_key=gateway.key, source_id="live-1", ws_url=gateway.ws_url)
    try:
        px.send("seq", -1)
        assert px.flush_buffer(30)

        def live():
            with px._sender._fresh_lock:
                return px._sender._live
        wait_for(live, what="the sender to find nothing unsent")
        store = px._store
        reads = Counter()
        for name in ("rows", "heads", "get", "replace"):
            real = getattr(store, name)

            def counted(*a, _real=real, _name=name, **kw):
                reads[_name] += 1
                return _real(*a, **kw)
            setattr(store, name, counted)
        for burst in range(5):
            for i in range(400):
                px.send("seq", burst * 400 + i)
            assert px.flush_buffer(30)
        assert px.buffer_size() == 0
        assert values(gateway.points("live-1"), "seq")[1:] == list(range(2000))
        assert not reads, "the store was read back: %s" % dict(reads)
    finally:
        px.close()
