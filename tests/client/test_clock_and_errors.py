"""Clock correction, poison readings, bad input and rejected keys."""

import json
import time

import pytest

from plexus import AuthenticationError, Plexus, PlexusError
from plexus.config import buffer_path_for
from plexus.store import SqliteStore
from plexus_core.points import encode_point, make_point
from proxy import TcpProxy
from util import values, wait_for

HOUR_NS = 3600 * 10 ** 9


def test_a_skewed_device_clock_is_corrected_and_explicit_timestamps_are_not(gateway,
                                                                         monkeypatch):
    real = time.time_ns
    skew = [HOUR_NS]
    monkeypatch.setattr(time, "time_ns", lambda: real() + skew[0])  # device clock 1 h fast
    px = Plexus(api_key=gateway.key, source_id="skew-1", ws_url=gateway.ws_url)
    try:
        wait_for(lambda: px.connected, what="connected")
        assert abs(px.clock_offset_ms + 3600000) < 5000
        px.send("auto", 1)
        px.send("explicit", 2, timestamp=1760000000123)
        assert px.flush_buffer(30)
        got = {p["metric"]: p["timestamp"] for p in gateway.points("skew-1")}
        assert abs(got["auto"] - real() // 10 ** 6) < 5000   # server time, not device time
        assert got["explicit"] == 1760000000123               # never changed

        # The clock drifts while connected: heartbeats resync it, no reconnect needed.
        px._sender.heartbeat_ms = 100
        skew[0] = 2 * HOUR_NS
        wait_for(lambda: abs(px.clock_offset_ms + 7200000) < 5000, what="resync")
        assert px._sender.connections == 1
    finally:
        px.close()


def test_http_only_clients_correct_a_wrong_clock_from_the_date_header(gateway, monkeypatch):
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() - 5 * HOUR_NS)  # no RTC, no NTP
    px = Plexus(api_key=gateway.key, source_id="skew-2", ws_url=gateway.ws_url,
                transport="http")
    try:
        px.send("first", 1)                 # before any answer: the device clock
        assert px.flush_buffer(30)
        assert abs(px.clock_offset_ms - 5 * 3600000) < 3000
        px.send("later", 2)
        assert px.flush_buffer(30)
        got = {p["metric"]: p["timestamp"] for p in gateway.points("skew-2")}
        assert abs(got["later"] - real() // 10 ** 6) < 3000
    finally:
        px.close()


def plant_poison(path, good_before, good_after):
    """Write a batch holding one reading the gateway refuses straight into the store
    (the client itself never queues an invalid reading; an older buffer might)."""
    pts = [encode_point(make_point("seq", i, 1760000000000 + i)) for i in good_before]
    pts.append(json.dumps({"class": "metric", "metric": "seq", "value": "NaN",
                           "timestamp": 1760000000500}, separators=(",", ":")))
    pts += [encode_point(make_point("seq", i, 1760000000000 + i)) for i in good_after]
    s = SqliteStore(path)
    s.add([(len(pts), ",".join(pts))])
    s.close()


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_a_poison_reading_is_isolated_dropped_and_reported(gateway, transport):
    source = "poison-" + transport
    plant_poison(buffer_path_for(source), range(0, 37), range(37, 100))
    px = Plexus(api_key=gateway.key, source_id=source, ws_url=gateway.ws_url,
                transport=transport)
    try:
        wait_for(lambda: px.rejected_points == 1, what="bad reading isolated")
        wait_for(lambda: px.buffer_size() == 0, what="the good ones delivered")
        assert sorted(values(gateway.points(source))) == list(range(100))
        with pytest.raises(PlexusError, match="rejected a reading as invalid"):
            px.send("after", 1)
        px.send("after", 2)               # reported once, then back to normal
        assert px.flush_buffer(30)
        assert values(gateway.points(source), "after") == [2]
    finally:
        px.close()


BAD = [
    (("t", float("nan")), "not finite"),
    (("t", float("inf")), "not finite"),
    (("t", None), "null"),
    (("", 1), "empty"),
    (("x" * 257, 1), "257 bytes"),
    (("t", b"raw"), "bytes"),
    (("t", {"a": float("nan")}), "NaN"),
    (("t", "s" * 300), "limit"),
    (("t", {"k": "v" * 5000}), "4096"),
    (("t", object()), "not JSON"),
    (("t", "on", None, None, "metric"), "needs a finite number"),
]


def test_bad_input_raises_value_error_before_anything_is_queued(gateway):
    px = Plexus(api_key=gateway.key, source_id="bad-1", ws_url=gateway.ws_url)
    try:
        for args, message in BAD:
            with pytest.raises(ValueError, match=message):
                px.send(*args)
        with pytest.raises(ValueError, match="limit is 16"):
            px.send("t", 1, tags={"k%d" % i: "v" for i in range(17)})
        with pytest.raises(ValueError, match="tag values must be strings"):
            px.send("t", 1, tags={"k": 5})
        with pytest.raises(ValueError, match="timestamp"):
            px.send("t", 1, timestamp="yesterday")
        with pytest.raises(ValueError, match="not finite"):
            px.event("e", float("nan"))
        with pytest.raises(ValueError):   # one bad item: none of the batch is queued
            px.send_batch([("ok", 1), ("ok", 2), ("bad", float("nan"))])
        with pytest.raises(ValueError, match="send_batch item 0"):
            px.send_batch([("ok", 1, 2, 3)])
        assert px.buffer_size() == 0
        px.send("ok", 3)
        assert px.flush_buffer(30)
        assert [p["metric"] for p in gateway.points("bad-1")] == ["ok"]
    finally:
        px.close()


def test_bad_construction_arguments_say_what_to_fix(gateway):
    with pytest.raises(ValueError, match="No API key"):
        Plexus(source_id="x")
    with pytest.raises(ValueError, match="lowercase"):
        Plexus(api_key=gateway.key, source_id="Bad Id")
    with pytest.raises(ValueError, match="UUID"):
        Plexus(api_key=gateway.key, source_id="123e4567-e89b-12d3-a456-426614174000")
    with pytest.raises(ValueError, match="transport"):
        Plexus(api_key=gateway.key, source_id="x", transport="mqtt")
    with pytest.raises(ValueError, match="must start with"):
        Plexus(api_key=gateway.key, source_id="x", ws_url="127.0.0.1:80")


def test_a_rejected_key_surfaces_promptly_and_reconnects_back_off(gateway, capfd, monkeypatch):
    monkeypatch.setenv("PLEXUS_QUIET", "0")
    proxy = TcpProxy(int(gateway.url.rsplit(":", 1)[1]))
    secret = "plx_" + "s3cr3t" * 6
    px = Plexus(api_key=secret, source_id="auth-1", ws_url=proxy.ws_url, gateway_url=proxy.url)
    try:
        px.send("t", 1)

        def raised():
            try:
                px.send("t", 2)
            except AuthenticationError as e:
                return e
        err = wait_for(raised, what="AuthenticationError")
        assert "PLEXUS_API_KEY" in str(err) and secret not in str(err)
        seen = proxy.connections
        time.sleep(3)  # observing that nothing happens: no hammering with a rejected key
        assert proxy.connections - seen <= 1
        assert px.buffer_size() >= 1  # readings wait on disk for a good key
    finally:
        px.close()
        proxy.close()
    out, err_text = capfd.readouterr()
    assert secret not in out + err_text
    assert "rejected the API key" in err_text
