"""Every public call against a real gateway process."""

import time

import pytest

from plexus import BatchSender, Plexus, PlexusError, RetryConfig
from util import values, wait_for


@pytest.fixture
def client(gateway, tmp_path):
    px = Plexus(api_key=gateway.key, source_id="rig-1", ws_url=gateway.ws_url)
    yield px
    px.close()


def test_send_event_and_batch_arrive_as_sent(client, gateway):
    assert client.send("coolant.temp_c", 81.4, tags={"line": "B"}) is True
    assert client.send("motor.rpm", 3450, timestamp=1760000000.5)
    assert client.event("state_change", {"from": "IDLE", "to": "PRIMING"})
    assert client.send("robot.state", "MOVING")          # class inferred: event
    assert client.send("count", 7, data_class="event")
    assert client.send_batch([("a", 1.0), ("b", 2.0, 1760000000123)], tags={"rig": "1"})
    assert client.flush_buffer(30) is True
    got = {p["metric"]: p for p in gateway.points("rig-1")}
    assert got["coolant.temp_c"]["value"] == 81.4 and got["coolant.temp_c"]["tags"] == {"line": "B"}
    assert got["coolant.temp_c"]["class"] == "metric"
    assert got["motor.rpm"]["timestamp"] == 1760000000500
    assert got["state_change"]["class"] == "event"
    assert got["state_change"]["value"] == {"from": "IDLE", "to": "PRIMING"}
    assert got["robot.state"]["class"] == "event" and got["robot.state"]["value"] == "MOVING"
    assert got["count"]["class"] == "event" and got["count"]["value"] == 7
    assert got["b"]["timestamp"] == 1760000000123 and got["b"]["tags"] == {"rig": "1"}
    assert got["a"]["tags"] == {"rig": "1"}
    assert abs(got["a"]["timestamp"] - time.time() * 1000) < 60000
    assert client.buffer_size() == 0
    assert (client.dropped_points, client.rate_limited_frames, client.rejected_points,
            client.evicted_points) == (0, 0, 0, 0)


def test_send_batch_shares_one_timestamp(client, gateway):
    client.send_batch([("x", 1), ("y", 2), ("z", 3)])
    assert client.flush_buffer(30)
    assert len({p["timestamp"] for p in gateway.points("rig-1")}) == 1


def test_readings_go_out_in_the_background_without_flush(client, gateway):
    for i in range(500):
        client.send("seq", i)
    wait_for(lambda: gateway.count("rig-1") == 500, what="500 readings stored")
    assert values(gateway.points("rig-1")) == list(range(500))
    wait_for(lambda: client.buffer_size() == 0, what="store emptied by acks")
    assert client.connected


def test_batch_sender_with_and_without_with(client, gateway):
    with client.batch(interval_ms=50) as b:
        assert isinstance(b, BatchSender)
        b.send("w", 1)
        b.send_batch([("w", 2), ("w", 3)])
    with pytest.raises(RuntimeError):
        b.send("w", 4)
    b2 = client.batch()               # never started with `with`: still delivers
    b2.send("w", 5)
    wait_for(lambda: gateway.count("rig-1") == 4, what="batched readings")
    assert sorted(values(gateway.points("rig-1"))) == [1, 2, 3, 5]
    wait_for(lambda: b2.pending == 0, what="acks for the stored readings")  # (they follow the commit)
    assert b2.dropped == 0
    with pytest.raises(ValueError):
        client.batch(interval_ms=1)


def test_context_manager_closes_and_flushes(gateway):
    with Plexus(api_key=gateway.key, source_id="rig-2", ws_url=gateway.ws_url) as px:
        for i in range(100):
            px.send("v", i)
    assert gateway.count("rig-2") == 100   # close() waited for the acknowledgements
    with pytest.raises(PlexusError, match="closed"):
        px.send("v", 1)
    px.close()  # twice is fine


def test_http_transport_and_retry_config(gateway):
    px = Plexus(api_key=gateway.key, source_id="rig-3", ws_url=gateway.ws_url,
                transport="http", retry_config=RetryConfig(base_delay=0.1, max_delay=0.5))
    try:
        for i in range(2000):
            px.send("h", i, tags={"via": "http"})
        assert px.flush_buffer(30)
        assert not px.connected
        assert values(gateway.points("rig-3")) == list(range(2000))
    finally:
        px.close()


def test_environment_alone_configures_a_local_gateway(gateway, monkeypatch):
    monkeypatch.setenv("PLEXUS_API_KEY", gateway.key)
    monkeypatch.setenv("PLEXUS_GATEWAY_URL", gateway.url)  # WebSocket URL derived from it
    px = Plexus(source_id="rig-4")
    try:
        assert px.ws_url == gateway.ws_url and px.endpoint == gateway.url
        px.send("env", 1)
        assert px.flush_buffer(30) and px.connected
    finally:
        px.close()
    assert gateway.count("rig-4") == 1


def test_published_positional_order_and_052_style_calls(gateway, monkeypatch):
    monkeypatch.setenv("PLEXUS_GATEWAY_URL", gateway.url)
    px = Plexus(gateway.key, gateway.url, "rig-5", 10.0, None, 1000, True, None)  # 0.16 order
    try:
        assert px.source_id == "rig-5" and px.endpoint == gateway.url and px.max_buffer_size == 1000
        px.send("legacy", 1.0)
        assert px.flush_buffer(30)
    finally:
        px.close()
    px = Plexus(gateway.key, "rig-6", transport="http")  # (key, source_id) reads naturally too
    try:
        assert px.source_id == "rig-6" and px.transport == "http"
    finally:
        px.close()


def test_runs_use_the_server_clock_and_close_completed_or_aborted(client, gateway):
    try:
        run = client.start_run("bench-1", tags={"build": "a41f"})
    except PlexusError as e:
        if "404" in str(e):
            pytest.skip("this gateway build has no /api/runs yet")
        raise
    assert run["id"]
    ended = client.end_run(run)
    assert ended.get("status", "completed") == "completed"
    with client.run("bench-2") as r:
        client.send("in.run", 1)
    assert r["id"]
    with pytest.raises(KeyError):
        with client.run("bench-3", tags={"a": "b"}, store_frames=True):
            raise KeyError("boom")   # closed as aborted, the caller's error is kept



def test_video_calls_reach_the_video_sender_over_this_socket(client, gateway):
    np = pytest.importorskip("numpy")
    pytest.importorskip("cv2")
    from plexus import read_mjpeg_frames
    assert callable(read_mjpeg_frames)
    wait_for(lambda: client.connected, what="connected")
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    assert client.send_video_frame(frame, camera_id="cam:1") is True
    video = client._video()
    wait_for(lambda: video.frames_sent >= 1, what="frame written to the socket")
    client.close()
    assert client._video_sender is None  # close() closed it
