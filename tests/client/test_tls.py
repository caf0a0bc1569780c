"""TLS is verified by default: a gateway with an untrusted certificate gets nothing."""

import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from plexus import Plexus
from plexus.data_client import DataClient, Unreachable
from util import wait_for


@pytest.fixture
def untrusted_tls_server(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stats = {"attempts": 0, "handshakes": 0, "bytes": 0}

    def serve():
        while True:
            try:
                raw, _ = srv.accept()
            except OSError:
                return
            stats["attempts"] += 1
            raw.settimeout(10)
            try:
                with ctx.wrap_socket(raw, server_side=True) as tls:
                    stats["handshakes"] += 1
                    stats["bytes"] += len(tls.recv(65536))
            except (OSError, ssl.SSLError):
                pass
    threading.Thread(target=serve, daemon=True).start()
    stats["cert"] = str(cert)
    yield srv.getsockname()[1], stats
    srv.close()


def test_untrusted_certificate_is_refused_and_readings_stay_queued(untrusted_tls_server):
    port, stats = untrusted_tls_server
    px = Plexus(api_key="plx_never_sent", source_id="tls-1", ws_url="wss://127.0.0.1:%d" % port,
                gateway_url="https://127.0.0.1:%d" % port)
    try:
        px.send("t", 1)
        wait_for(lambda: stats["attempts"] >= 2, what="WebSocket and HTTP attempts")
        assert stats["handshakes"] == 0 and stats["bytes"] == 0
        assert px.buffer_size() == 1 and not px.connected
    finally:
        px.close()


def test_the_data_client_verifies_too_and_trusts_only_what_it_is_given(untrusted_tls_server):
    port, stats = untrusted_tls_server
    client = DataClient("https://127.0.0.1:%d" % port, "plx_never_sent", timeout=10)
    with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED") as e:
        client.sources()
    assert "plx_never_sent" not in str(e.value)
    wait_for(lambda: stats["attempts"] >= 1, what="the refused handshake")
    assert stats["handshakes"] == 0 and stats["bytes"] == 0
    # a context that trusts this certificate (what `plexus deploy --ca` gives it) gets through
    client._tls = ssl.create_default_context(cafile=stats["cert"])
    with pytest.raises(Unreachable):  # this server reads the request and hangs up without answering
        client.sources()
    wait_for(lambda: stats["bytes"] > 0, what="a request sent over the trusted connection")
    assert stats["handshakes"] == 1
