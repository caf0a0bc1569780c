"""Settings: constructor, then environment, then config.json, then defaults."""

import json
import os

import pytest

from plexus import Plexus
from plexus.config import RetryConfig, Settings, buffer_path_for, config_path, save_config


def test_defaults_are_the_hosted_gateway_and_a_generated_saved_source_id():
    s = Settings(api_key="plx_k")
    assert s.gateway_url == "https://gateway.plexus.company"
    assert s.ws_url == "wss://gateway.plexus.company"
    assert s.endpoint == "https://app.plexus.company"
    assert s.source_id.startswith("source-") and len(s.source_id) == 15
    assert json.loads(config_path().read_text())["source_id"] == s.source_id
    assert Settings(api_key="plx_k").source_id == s.source_id     # stable across starts
    assert oct(config_path().stat().st_mode & 0o777) == "0o600"
    assert s.persistent_buffer is True


def test_environment_wins_over_config_and_urls_are_derived(monkeypatch):
    save_config({"api_key": "plx_file", "source_id": "from-file",
                 "gateway_url": "https://gw.example", "endpoint": "https://app.example/"})
    s = Settings()
    assert (s.api_key, s.source_id) == ("plx_file", "from-file")
    assert s.gateway_url == "https://gw.example" and s.ws_url == "wss://gw.example"
    assert s.endpoint == "https://app.example"
    monkeypatch.setenv("PLEXUS_API_KEY", "plx_env")
    monkeypatch.setenv("PLEXUS_GATEWAY_WS_URL", "ws://10.0.0.2:8080/ws/device")
    monkeypatch.setenv("PLEXUS_ENDPOINT", "http://10.0.0.2:8080/")
    s = Settings()
    assert s.api_key == "plx_env" and s.ws_url == "ws://10.0.0.2:8080"
    assert s.gateway_url == "https://gw.example"  # each URL from its own setting
    assert s.endpoint == "http://10.0.0.2:8080"
    s = Settings(api_key="plx_arg", ws_url="wss://h.example/", gateway_url="https://h.example")
    assert (s.api_key, s.ws_url, s.gateway_url) == ("plx_arg", "wss://h.example",
                                                  "https://h.example")


def test_only_a_websocket_url_gives_the_http_url_and_endpoint():
    s = Settings(api_key="plx_k", ws_url="ws://127.0.0.1:9000")
    assert s.gateway_url == "http://127.0.0.1:9000" and s.endpoint == "http://127.0.0.1:9000"


def test_config_dir_and_persistent_buffer_setting_are_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("PLEXUS_CONFIG_DIR", str(tmp_path / "etc-plexus"))  # the published client ignores it
    save_config({"api_key": "plx_k", "source_id": "dev-9", "persistent_buffer": False})
    assert (tmp_path / "etc-plexus" / "config.json").exists()
    assert Settings().persistent_buffer is False
    assert Settings(persistent_buffer=True).persistent_buffer is True
    assert buffer_path_for("dev-9") == tmp_path / "etc-plexus" / "buffer-dev-9.db"
    assert buffer_path_for("a" * 200).name == "buffer-%s.db" % __import__(
        "hashlib").sha256(b"a" * 200).hexdigest()[:32]


def test_unreadable_config_falls_back_to_defaults():
    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text("{not json")
    assert Settings(api_key="plx_k", source_id="x").persistent_buffer is True


def test_retry_config_matches_the_published_schedule():
    r = RetryConfig(jitter=False)
    assert [r.get_delay(i) for i in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    j = RetryConfig()
    assert all(0.5 <= j.get_delay(0) < 1.0 for _ in range(100))


def test_client_keeps_its_buffer_per_source_and_never_shows_the_key(tmp_path):
    px = Plexus(api_key="plx_secret_value", source_id="dev-a", ws_url="ws://127.0.0.1:9")
    try:
        assert os.path.exists(buffer_path_for("dev-a"))
        assert "plx_secret_value" not in repr(px)
    finally:
        px.close()
    mem = Plexus(api_key="plx_k", source_id="dev-b", persistent_buffer=False,
                 ws_url="ws://127.0.0.1:9")
    try:
        assert mem.max_buffer_size == 10000 and not os.path.exists(buffer_path_for("dev-b"))
    finally:
        mem.close()


def test_two_live_clients_cannot_share_a_buffer():
    a = Plexus(api_key="plx_k", source_id="dev-c", ws_url="ws://127.0.0.1:9")
    try:
        with pytest.raises(Exception, match="in use by another Plexus client"):
            Plexus(api_key="plx_k", source_id="dev-c", ws_url="ws://127.0.0.1:9")
    finally:
        a.close()
    Plexus(api_key="plx_k", source_id="dev-c", ws_url="ws://127.0.0.1:9").close()
