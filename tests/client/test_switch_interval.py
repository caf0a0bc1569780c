"""The switch interval while clients run (plexus/switch_interval.py): lowered for
delivery, and the application's own back when the last client closes."""

import sys

import pytest

from plexus import Plexus, switch_interval


@pytest.fixture
def app_interval():
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.004)  # the application's own choice
    yield 0.004
    sys.setswitchinterval(before)


def test_holds_nest_and_the_last_release_restores(app_interval):
    a = switch_interval.hold(0.001)
    assert sys.getswitchinterval() == pytest.approx(0.001)
    with switch_interval.briefly(0.0001):
        assert sys.getswitchinterval() == pytest.approx(0.0001)
    assert sys.getswitchinterval() == pytest.approx(0.001)
    b = switch_interval.hold(0.002)  # never raises it above another holder's
    assert sys.getswitchinterval() == pytest.approx(0.001)
    switch_interval.release(a)
    assert sys.getswitchinterval() == pytest.approx(0.002)
    switch_interval.release(b)
    switch_interval.release(b)  # twice is harmless
    assert sys.getswitchinterval() == pytest.approx(app_interval)


def test_a_shorter_interval_of_the_application_is_kept(app_interval):
    sys.setswitchinterval(0.0005)
    with switch_interval.briefly(switch_interval.CLIENT_S):
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    assert sys.getswitchinterval() == pytest.approx(0.0005)


def test_clients_lower_it_while_open(gateway, app_interval):
    first = Plexus(api_key=gateway.key, source_id="rig-1", ws_url=gateway.ws_url)
    second = Plexus(api_key=gateway.key, source_id="rig-2", ws_url=gateway.ws_url)
    assert first.send("t", 1.0) and second.send("t", 2.0)
    assert first.flush_buffer(30) and second.flush_buffer(30)  # (a handshake came and went)
    assert sys.getswitchinterval() == pytest.approx(switch_interval.CLIENT_S)
    first.close()
    assert sys.getswitchinterval() == pytest.approx(switch_interval.CLIENT_S)
    second.close()
    assert sys.getswitchinterval() == pytest.approx(app_interval)
    assert len(gateway.points("rig-1")) == len(gateway.points("rig-2")) == 1
