"""Read side of a gateway: its Data API (docs/protocol.md §8) over HTTP and its
live WebSocket streams, for the `plexus` command and `plexus demo`.

The key travels in the `x-api-key` header (and in the first frame of a live
stream), never in a URL, and never appears in an error message.
"""

import json
import threading
import urllib.parse

from plexus.http_transport import USER_AGENT, HttpUnavailable, exchange, server_date_ms
from plexus_core.errors import AuthenticationError, PlexusError


class Unreachable(PlexusError):
    """The gateway could not be reached (refused, DNS, timeout, TLS)."""


class ApiError(PlexusError):
    """The gateway answered with an error status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class KeyRejected(AuthenticationError):
    """401: the gateway does not know this key (or it was revoked)."""

    status = 401


class Response:
    def __init__(self, status, data, headers):
        self.status = status
        self.data = data
        self.headers = headers

    def server_time_ms(self):
        """The server's clock from the Date header (1 s resolution), or None."""
        return server_date_ms(self.headers)


def _error_text(data, fallback):
    """The reason in an error body: `{"detail": text}`, a 422's list of faults, or `{"error": text}`."""
    if isinstance(data, dict):
        for k in ("detail", "error", "message"):
            if isinstance(data.get(k), str):
                return data[k]
        faults = data.get("detail")
        if isinstance(faults, list) and faults and all(isinstance(f, dict) for f in faults):
            return "; ".join("%s: %s" % (".".join(str(p) for p in f.get("loc", [])[1:]) or "body", f.get("msg"))
                             for f in faults)
    return fallback


class DataClient:
    def __init__(self, base_url, api_key=None, timeout=10.0):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("gateway URL %r must start with http:// or https://" % base_url)
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._tls = None  # an ssl.SSLContext trusted instead of the system's CAs (deploy --ca sets one)

    def request(self, method, path, body=None, query=None, check=True):
        """Returns a Response; raises Unreachable, KeyRejected or ApiError (when check)."""
        url = self.base_url + path
        if query:
            q = {k: v for k, v in query.items() if v is not None}
            if q:
                url += "?" + urllib.parse.urlencode(q)
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        try:
            status, resp_headers, raw = exchange(method, url, headers, data, self.timeout, self._tls)
        except HttpUnavailable as e:
            raise Unreachable("cannot reach the gateway at %s (%s)" % (self.base_url, e.reason)) from None
        except ValueError as e:  # a URL urllib cannot use (e.g. a port that is not a number)
            raise Unreachable("cannot reach the gateway at %s (%s)" % (self.base_url, e)) from None
        resp = Response(status, _json(raw), resp_headers)
        if not check or 200 <= status < 300:
            return resp
        text = _error_text(resp.data, "HTTP %d" % resp.status)
        if resp.status == 401:
            raise KeyRejected("the gateway at %s rejected the API key (%s)" % (self.base_url, text))
        raise ApiError(resp.status, "the gateway answered %d: %s" % (resp.status, text))

    def get(self, path, **query):
        return self.request("GET", path, query=query).data

    def post(self, path, body):
        return self.request("POST", path, body=body).data

    # -- Data API --------------------------------------------------------------

    def sources(self):
        return (self.get("/v1/sources") or {}).get("devices", [])

    def query(self, source_id, metrics=None, last=None, start=None, end=None, interval=None):
        return self.get(source_path(source_id, "/metrics/query"), metrics=metrics, last=last,
                        start=start, end=end, interval=interval)

    def events(self, source_id, last=None, limit=None, name=None):
        return self.get(source_path(source_id, "/events"), last=last, limit=limit, name=name)

    def stream(self, path, on_frame, stop, ready=None):
        """Follow a live stream until `stop` (threading.Event) is set.

        on_frame(dict) gets each frame; `ready` (Event) is set once the auth
        frame is sent. Reconnects after drops; raises KeyRejected on 4401/4001."""
        import websocket  # websocket-client

        url = ("wss://" if self.base_url.startswith("https://") else "ws://") + \
            self.base_url.split("://", 1)[1] + path
        delay = 0.5
        while not stop.is_set():
            try:
                ws = websocket.create_connection(url, timeout=self.timeout,
                                                 header=["User-Agent: " + USER_AGENT])
            except (OSError, websocket.WebSocketException) as e:
                if stop.wait(delay):
                    return
                delay = min(delay * 2, 5.0)
                if delay >= 5.0 and ready is not None and not ready.is_set():
                    raise Unreachable("cannot open the live stream at %s (%s)" % (self.base_url, e)) from None
                continue
            try:
                ws.send(json.dumps({"type": "auth", "api_key": self.api_key or ""}, separators=(",", ":")))
                if ready is not None:
                    ready.set()
                delay = 0.5
                ws.settimeout(0.5)
                while not stop.is_set():
                    try:
                        op, data = ws.recv_data()
                    except websocket.WebSocketTimeoutException:
                        continue
                    if op == websocket.ABNF.OPCODE_CLOSE:
                        code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                        if code in (4401, 4001):
                            raise KeyRejected("the gateway at %s rejected the API key" % self.base_url)
                        break
                    if op != websocket.ABNF.OPCODE_TEXT:
                        continue
                    try:
                        frame = json.loads(data)
                    except ValueError:
                        continue
                    if isinstance(frame, dict):
                        on_frame(frame)
            except (OSError, websocket.WebSocketException):
                pass
            finally:
                ws.close()
            stop.wait(delay)


def source_path(source_id, rest=""):
    return "/v1/sources/" + urllib.parse.quote(source_id, safe="") + rest


def _json(raw):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def follow(client, path, on_frame, stop):
    """Run client.stream in a daemon thread; returns (thread, ready, errors)."""
    ready = threading.Event()
    errors = []

    def run():
        try:
            client.stream(path, on_frame, stop, ready)
        except Exception as e:  # reported by the caller
            errors.append(e)
            stop.set()

    t = threading.Thread(target=run, name="plexus-stream", daemon=True)
    t.start()
    return t, ready, errors
