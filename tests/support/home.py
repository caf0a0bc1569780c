"""Tests never touch the real ~/.plexus or the developer's PLEXUS_* settings."""

import pytest

PLEXUS_ENV = ("PLEXUS_API_KEY", "PLEXUS_GATEWAY_URL", "PLEXUS_GATEWAY_WS_URL", "PLEXUS_ENDPOINT")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PLEXUS_CONFIG_DIR", str(home / ".plexus"))
    monkeypatch.setenv("PLEXUS_QUIET", "1")
    for name in PLEXUS_ENV:
        monkeypatch.delenv(name, raising=False)
    return home
