import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "gateway"))  # util

from support.gateway import Gateway  # noqa: E402


@pytest.fixture(scope="module")
def shared_gateway(tmp_path_factory):
    """One gateway for many generated examples (a process per example would
    spend the run starting processes)."""
    gw = Gateway(tmp_path_factory.mktemp("gateway"))
    gw.start()
    yield gw
    gw.stop()
