"""Checking the settings of a board client, once, at construction: check()
returns them as a Settings, what the client keeps and its link is given.

Everything here runs once and is then dropped from memory (the client
forgets this module after use): on a board every loaded line of code costs
heap.
"""

from plexus_core.clock import ms_of_seconds
from plexus_core.errors import NotOnBoardError
from plexus_core.source_id import check_source_id


class Settings:
    """The checked settings: gateway_url, ws_url, url and ingest_url (as
    (scheme, host, port, path): what the link connects to, and POST
    /ingest's), api_key, source_id, timeout_ms, ca (DER bytes or None),
    tls_verify."""


def parse_url(url, field="url"):
    """(scheme, host, port, path) of http(s)/ws(s) URLs; ValueError otherwise."""
    if not isinstance(url, str):
        raise ValueError("%s must be a string like 'http://192.168.1.10:8080'" % field)
    i = url.find("://")
    scheme = url[:i].lower() if i > 0 else ""
    if scheme not in ("http", "https", "ws", "wss"):
        raise ValueError("%s %r must start with http://, https://, ws:// or wss://" % (field, url))
    rest = url[i + 3:]
    j = rest.find("/")
    hostport, path = (rest, "/") if j < 0 else (rest[:j], rest[j:])
    tls = scheme in ("https", "wss")
    port = 443 if tls else 80
    if hostport.startswith("["):  # [v6 address]:port
        k = hostport.find("]")
        host, tail = hostport[1:k], hostport[k + 1:]
    else:
        k = hostport.rfind(":")
        host, tail = (hostport, "") if k < 0 else (hostport[:k], hostport[k:])
    if tail:
        if not tail.startswith(":") or not tail[1:].isdigit():
            raise ValueError("%s %r has a bad port" % (field, url))
        port = int(tail[1:])
    if not host or "@" in host:
        raise ValueError("%s %r needs a host (and no user:password@)" % (field, url))
    return scheme, host, port, path


def check(api_key, source_id, gateway_url, ws_url, transport, timeout,
          linger_ms, ca, tls_verify, extra):
    """The constructor's arguments as Settings; ValueError (or TypeError)
    names the argument and the fix."""
    if extra:
        k = sorted(extra)[0]
        if k in ("buffer_path", "persistent_buffer", "max_buffer_size"):
            raise NotOnBoardError("%s= configures the CPython SQLite buffer; on a board "
                                  "readings wait in the flash log: use store=, "
                                  "max_segments= instead" % k)
        raise TypeError("unexpected keyword argument %r" % k)
    if not isinstance(api_key, str) or not api_key:
        raise ValueError("api_key must be your Plexus API key (a string starting 'plx_')")
    check_source_id(source_id)
    if transport not in ("ws", "http"):
        raise ValueError("transport must be 'ws' or 'http', got %r" % (transport,))
    if isinstance(linger_ms, bool) or not isinstance(linger_ms, int) or linger_ms < 0:
        raise ValueError("linger_ms must be an int >= 0 (ms readings may wait in RAM)")
    gw = gateway_url.rstrip("/") if isinstance(gateway_url, str) else gateway_url
    parse_url(gw, "gateway_url")
    if ws_url is None:  # http(s)://host -> ws(s)://host/ws/device (docs/protocol.md §4.1)
        ws_url = "ws" + gw[4:] if gw[:4] == "http" else gw
    ws_url = ws_url.rstrip("/") if isinstance(ws_url, str) else ws_url
    parse_url(ws_url, "ws_url")
    if not ws_url.endswith("/ws/device"):
        ws_url += "/ws/device"
    url = ws_url if transport == "ws" else gw
    if isinstance(ca, str):
        with open(ca, "rb") as f:
            ca = f.read()
    elif ca is not None and not isinstance(ca, (bytes, bytearray)):
        raise ValueError("ca must be the CA certificate (DER or PEM bytes) or the path of its file")
    if ca is not None:
        ca = der(bytes(ca))
    if url[:6] in ("https:", "wss://") and ca is None and tls_verify:
        raise ValueError("%s uses TLS: pass ca= (the CA certificate that signed the "
                         "gateway's, as DER/PEM bytes or a file path) so the board can "
                         "verify it, or tls_verify=False to skip verification" % url)
    s = Settings()
    s.gateway_url = gw
    s.ws_url = ws_url
    s.url = parse_url(url)
    s.ingest_url = parse_url(gw)  # also beside a WebSocket without acks
    s.api_key = api_key
    s.source_id = source_id
    s.timeout_ms = ms_of_seconds(timeout, "timeout")
    s.ca = ca
    s.tls_verify = tls_verify
    return s


def der(cert):
    """The board's TLS loads DER: convert a PEM certificate (the first one)."""
    if not cert.startswith(b"-----BEGIN"):
        return cert
    from binascii import a2b_base64
    b64 = []
    for line in cert.split(b"\n")[1:]:
        line = line.strip()
        if line.startswith(b"-----END"):
            break
        b64.append(line)
    try:
        return a2b_base64(b"".join(b64))
    except ValueError:
        raise ValueError("ca is not a readable PEM certificate")

