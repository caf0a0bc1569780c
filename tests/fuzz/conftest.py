import pytest

from support.gateway import Gateway


@pytest.fixture(scope="module")
def shared_gateway(tmp_path_factory):
    """One gateway for many generated examples (a process per example would
    spend the run starting processes)."""
    gw = Gateway(tmp_path_factory.mktemp("gateway"))
    gw.start()
    yield gw
    gw.stop()
