"""HTTP requests to the gateway (/ingest) and the app API (/api/runs).

Every failure to get a complete answer (refused, reset, timeout, a response
cut short) is one exception type, HttpUnavailable, so the caller has exactly
one retry decision to make (errors while reading the response are retried and
buffered like the rest). The API key goes in the x-api-key header only; exception text
never contains it. TLS certificates are verified (the system's default context).
"""

import gzip
import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime

from plexus_core import __version__
from plexus_core.limits import GZIP_THRESHOLD

USER_AGENT = "plexus-sdk/%s (python)" % __version__


class HttpUnavailable(OSError):
    """No complete HTTP answer: retry later."""


_TLS = []


def _tls(url):
    """One verifying context for every https request: building one loads the
    system CA store (~20 ms), which urllib would otherwise do per request."""
    if not url.startswith("https:"):
        return None
    if not _TLS:
        _TLS.append(ssl.create_default_context())
    return _TLS[0]


def request(method, url, api_key, body=None, timeout=10.0, gzip_over=None, answer=None):
    """Send one request; returns (status, text). Raises HttpUnavailable.

    `answer`, a dict, receives the server's clock reading ("date_ms", from the
    Date header: whole seconds) when the response has one."""
    headers = {"x-api-key": api_key, "User-Agent": USER_AGENT}
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else body
        headers["Content-Type"] = "application/json"
        if gzip_over is not None and len(data) > gzip_over:
            data = gzip.compress(data, 6)
            headers["Content-Encoding"] = "gzip"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=_tls(url)) as resp:
            _date(resp.headers, answer)
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        _date(e.headers, answer)
        try:
            text = e.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            text = ""
        return e.code, text
    except urllib.error.URLError as e:
        raise HttpUnavailable("cannot reach %s: %s" % (_host(url), e.reason)) from None
    except (OSError, http.client.HTTPException, ssl.SSLError, socket.timeout) as e:
        raise HttpUnavailable("no answer from %s: %s" % (_host(url), type(e).__name__)) from None


def ingest(gateway_url, api_key, body, timeout=10.0, answer=None):
    """POST one /ingest body (gzip above 1 KiB, as the published clients do)."""
    return request("POST", gateway_url + "/ingest", api_key, body, timeout,
                   gzip_over=GZIP_THRESHOLD, answer=answer)


def api_json(method, url, api_key, payload, timeout=10.0):
    """A JSON call to the app API; returns (status, parsed dict or None, text)."""
    status, text = request(method, url, api_key, json.dumps(payload or {}, separators=(",", ":")), timeout)
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = None
    return status, data, text


def _date(headers, answer):
    if answer is None or headers is None or not headers.get("Date"):
        return
    try:
        answer["date_ms"] = int(parsedate_to_datetime(headers["Date"]).timestamp()) * 1000
    except (TypeError, ValueError, IndexError, OverflowError):
        pass


def _host(url):
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0]
