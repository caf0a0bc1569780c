"""Fixtures for the firmware tests (helpers in emulated.py)."""

import os

import pytest

from emulated import Emulator


@pytest.fixture
def board_env(tmp_path):
    env = dict(os.environ)
    env["HOME"] = str(tmp_path / "home")
    env["PLEXUS_EMULATOR_DIR"] = str(tmp_path / "emulators")
    env.pop("PLEXUS_API_KEY", None)
    env.pop("PLEXUS_GATEWAY_URL", None)
    os.makedirs(env["HOME"], exist_ok=True)
    return env


@pytest.fixture
def emulator(tmp_path, board_env):
    """emulator(**kw) starts an emulated board; all are stopped afterwards."""
    boards = []

    def start(**kw):
        b = Emulator(tmp_path, board_env, **kw)
        boards.append(b)
        return b

    yield start
    for b in boards:
        b.stop()
