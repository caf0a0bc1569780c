"""TLS from the board client, inside MicroPython, against the real gateway
serving HTTPS/WSS: verified against the CA it is given, and refusing (no
data sent) a gateway whose certificate that CA did not sign."""

import re
import shutil
import subprocess
import sys
import time

import pytest

from support import mpy

gateway_support = pytest.importorskip("support.gateway")

CODE = """
import sys
from plexus_board.client import Plexus
url, key, ca, tr, store = sys.argv[1:6]
px = Plexus(key, "mpy-tls-" + tr, url, transport=tr, store=store, ca=ca)
for i in range(25):
    px.send("t", i)
print("RESULT", px.flush(10), px.buffer_size(), px.last_error)
"""


def make_cert(tmp_path, name):
    key, cert = tmp_path / (name + "-key.pem"), tmp_path / (name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_gateway(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make certificates")
    cert, key = make_cert(tmp_path, "gateway")
    gw = gateway_support.Gateway(tmp_path / "gw")  # its database and key
    log = open(gw.log_path, "ab")
    proc = subprocess.Popen([sys.executable, "-m", "plexus.gateway", "--host", "127.0.0.1", "--port", "0",
                             "--db", gw.db_path, "--tls-cert", str(cert), "--tls-key", str(key)],
                            stdout=log, stderr=subprocess.STDOUT)
    end = time.monotonic() + 60
    while True:
        m = re.search(r"listening on https://127\.0\.0\.1:(\d+)", gw.log())
        if m or proc.poll() is not None or time.monotonic() > end:
            break
        time.sleep(0.05)  # polling the log for the readiness line
    assert m, gw.log()
    gw.port = int(m.group(1))
    yield gw, cert
    proc.terminate()
    proc.wait(30)
    log.close()


def run(tmp_path, url, key, ca, transport, path=".frozen:" + mpy.CORE):
    script = tmp_path / "tls_main.py"
    script.write_text(CODE)
    r = mpy.run([str(script), url, key, str(ca), transport, str(tmp_path / ("flash-" + transport))],
                env={"MICROPYPATH": path}, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.split("RESULT ", 1)[1].strip()


@pytest.mark.parametrize("module", ["ssl", "tls"])
@pytest.mark.parametrize("transport", ["ws", "http"])
def test_verified_tls_delivers(tls_gateway, tmp_path, transport, module):
    # `ssl` is a frozen wrapper; a firmware without it has only the built-in `tls`
    gw, cert = tls_gateway
    path = ".frozen:" + mpy.CORE if module == "ssl" else mpy.CORE
    out = run(tmp_path, "https://127.0.0.1:%d" % gw.port, gw.key, cert, transport, path)
    assert out.startswith("True 0"), out
    assert sorted(p["value"] for p in gw.points("mpy-tls-" + transport)) == list(range(25))


@pytest.mark.parametrize("transport", ["ws", "http"])
def test_a_certificate_the_ca_did_not_sign_gets_no_data(tls_gateway, tmp_path, transport):
    gw, _ = tls_gateway
    other, _ = make_cert(tmp_path, "other-ca")
    out = run(tmp_path, "https://127.0.0.1:%d" % gw.port, gw.key, other, transport)
    assert out.startswith("False 25"), out  # readings stay on flash
    assert gw.key not in out
    assert gw.count("mpy-tls-" + transport) == 0


def test_tls_without_a_ca_is_refused_at_construction(tmp_path):
    script = tmp_path / "noca.py"
    script.write_text("from plexus_board.client import Plexus\n"
                      "try:\n"
                      "    Plexus('plx_k', 'dev-1', 'https://gw.example', store='%s')\n"
                      "except ValueError as e:\n"
                      "    print('refused:', e)\n" % (tmp_path / "flash"))
    r = mpy.run([str(script)], env={"MICROPYPATH": mpy.CORE})
    assert "refused:" in r.stdout and "ca=" in r.stdout and "tls_verify=False" in r.stdout, r.stdout + r.stderr
