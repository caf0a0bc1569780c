"""A local certificate authority for TLS tests (openssl): a CA, a second CA
nobody trusts, and a gateway certificate for 127.0.0.1 signed by the first."""

import shutil
import subprocess


def available():
    return shutil.which("openssl") is not None


def _openssl(d, *args):
    subprocess.run(["openssl"] + list(args), cwd=str(d), check=True, capture_output=True)


def _ca(d, name):
    _openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + name,
             "-keyout", name + ".key", "-out", name + ".pem")
    _openssl(d, "x509", "-in", name + ".pem", "-outform", "DER", "-out", name + ".der")


def make(d):
    """Writes ca.pem/.der, other-ca.pem/.der, gw.pem and gw.key into `d` (a Path); returns it."""
    d.mkdir(parents=True, exist_ok=True)
    _ca(d, "ca")
    _ca(d, "other-ca")
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "gw.key",
             "-out", "gw.csr")
    _openssl(d, "x509", "-req", "-in", "gw.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.cnf", "-out", "gw.pem")
    return d
