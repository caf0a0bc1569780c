"""HTTP requests to the gateway: /ingest and the app API (/api/runs) here,
the Data API through data_client, all over `exchange()`.

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

from plexus_core import __version__
from plexus_core.ingest import date_ms
from plexus_core.limits import GZIP_THRESHOLD

USER_AGENT = "plexus-sdk/%s (python)" % __version__


class HttpUnavailable(OSError):
    """No complete HTTP answer: retry later. `reason` says why, without the URL's path."""

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


_TLS = []


def _tls(url):
    """One verifying context for every https request: building one loads the
    system CA store (~20 ms), which urllib would otherwise do per request."""
    if not url.startswith("https:"):
        return None
    if not _TLS:
        _TLS.append(ssl.create_default_context())
    return _TLS[0]


def exchange(method, url, headers, data=None, timeout=10.0, tls=None):
    """One request; returns (status, headers, body bytes), error statuses
    included. Raises HttpUnavailable when there is no complete answer.
    `tls`: an ssl.SSLContext to verify https with instead of the system's."""
    headers = dict(headers)
    headers["User-Agent"] = USER_AGENT
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=tls or _tls(url)) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        try:
            body = e.read()
        except (OSError, http.client.HTTPException):
            body = b""
        return e.code, e.headers, body
    except urllib.error.URLError as e:
        raise HttpUnavailable("cannot reach %s: %s" % (_host(url), e.reason), e.reason) from None
    except (OSError, http.client.HTTPException, ssl.SSLError, socket.timeout) as e:
        raise HttpUnavailable("no answer from %s: %s" % (_host(url), type(e).__name__), type(e).__name__) from None


def request(method, url, api_key, body=None, timeout=10.0, gzip_over=None, answer=None):
    """Send one request; returns (status, text). Raises HttpUnavailable.

    `answer`, a dict, receives the server's clock reading ("date_ms", from the
    Date header: whole seconds) when the response has one."""
    headers = {"x-api-key": api_key}
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else body
        headers["Content-Type"] = "application/json"
        if gzip_over is not None and len(data) > gzip_over:
            data = gzip.compress(data, 6)
            headers["Content-Encoding"] = "gzip"
    status, resp_headers, raw = exchange(method, url, headers, data, timeout)
    if answer is not None:
        ms = server_date_ms(resp_headers)
        if ms is not None:
            answer["date_ms"] = ms
    return status, raw.decode("utf-8", "replace")


def server_date_ms(headers):
    """The server's clock from a response's Date header (whole seconds), or None."""
    return date_ms(headers.get("Date")) if headers is not None else None


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


def _host(url):
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0]
