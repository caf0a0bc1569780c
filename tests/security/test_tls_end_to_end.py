"""TLS end to end: the real gateway serving HTTPS/WSS with a certificate from
a local CA. Both runtimes deliver when they trust that CA, and send nothing
when they do not; verification is on unless switched off explicitly."""

import os
import subprocess
import sys
import textwrap

import pytest

from support import mpy, pki as local_ca
from support.gateway import Gateway

pytestmark = pytest.mark.skipif(not local_ca.available(), reason="openssl makes the test CA")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return local_ca.make(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_gateway(pki, tmp_path):
    gw = Gateway(tmp_path / "gw", tls=(pki / "gw.pem", pki / "gw.key"))
    gw.start()
    assert gw.url.startswith("https://") and gw.ws_url.startswith("wss://")
    yield gw
    gw.stop()


CPYTHON = textwrap.dedent("""
    import sys
    from plexus import Plexus
    key, sid, url, ws_url, transport = sys.argv[1:6]
    px = Plexus(api_key=key, source_id=sid, gateway_url=url, ws_url=ws_url, transport=transport,
                buffer_path=sid + ".db")
    for i in range(20):
        px.send("seq", i)
    print("flushed", px.flush_buffer(8))
    px.close()
""")


def run_cpython(gw, sid, transport, tmp_path, ca=None):
    env = dict(os.environ, HOME=str(tmp_path), PLEXUS_QUIET="1")
    env.pop("SSL_CERT_FILE", None)
    if ca:
        env["SSL_CERT_FILE"] = str(ca)        # the system trust store, as an admin would extend it
    r = subprocess.run([sys.executable, "-c", CPYTHON, gw.key, sid, gw.url, gw.ws_url, transport], cwd=str(tmp_path),
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_cpython_client_delivers_over_verified_tls(tls_gateway, pki, tmp_path, transport):
    assert run_cpython(tls_gateway, "tls-" + transport, transport, tmp_path, ca=pki / "ca.pem") == ["flushed", "True"]
    assert tls_gateway.count("tls-" + transport) == 20


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_cpython_client_sends_nothing_to_an_untrusted_gateway(tls_gateway, tmp_path, transport):
    assert run_cpython(tls_gateway, "untrusted-" + transport, transport, tmp_path) == ["flushed", "False"]
    assert tls_gateway.count("untrusted-" + transport) == 0


BOARD = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from plexus_board.client import Plexus
    key, url, transport, store, ca = sys.argv[2:7]
    try:
        px = Plexus(key, "board-tls", url, transport=transport, store=store, timeout=5,
                    ca=None if ca == "-" else ca)
    except ValueError as e:
        print("REFUSED", e)
        sys.exit(0)
    for i in range(20):
        px.send("seq", i)
    ok = px.flush(10)
    print("FLUSHED", ok, px.last_error is not None)
""")


def run_board(gw, transport, tmp_path, ca):
    script = tmp_path / "board.py"
    script.write_text(BOARD)
    r = mpy.run([str(script), mpy.CORE, gw.key, gw.url, transport, str(tmp_path / ("flash-" + transport)),
                 str(ca) if ca else "-"], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_board_verifies_the_gateway_with_its_ca(tls_gateway, pki, tmp_path, transport):
    assert run_board(tls_gateway, transport, tmp_path, pki / "ca.der") == "FLUSHED True False"
    assert tls_gateway.count("board-tls") == 20


def test_board_with_another_ca_sends_nothing(tls_gateway, pki, tmp_path):
    assert run_board(tls_gateway, "ws", tmp_path, pki / "other-ca.der") == "FLUSHED False True"
    assert tls_gateway.count("board-tls") == 0


def test_board_refuses_tls_without_a_ca(tls_gateway, tmp_path):
    out = run_board(tls_gateway, "ws", tmp_path, None)
    assert out.startswith("REFUSED") and "ca=" in out
