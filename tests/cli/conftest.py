"""CLI tests run `plexus` in a subprocess with a throwaway home and config dir."""

import pytest


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h
