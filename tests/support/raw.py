"""Talking to the real gateway from tests: raw HTTP and raw device sockets,
so every byte the gateway answers is visible."""

import gzip as gzip_
import json
import urllib.error
import urllib.request

import websocket

from support.waiting import wait_for  # noqa: F401  (re-exported)


def http(gw, method, path, body=None, key=None, headers=None, raw=None, gzip=False):
    """(status, parsed JSON or text, headers)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    h = dict(headers or {})
    if data is not None:
        h.setdefault("Content-Type", "application/json")
        if gzip:
            data = gzip_.compress(data)
            h["Content-Encoding"] = "gzip"
    if key is not None:
        h["x-api-key"] = key
    req = urllib.request.Request(gw.url + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, text, hdrs = r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        status, text, hdrs = e.code, e.read().decode(), e.headers
    try:
        return status, json.loads(text), hdrs
    except ValueError:
        return status, text, hdrs


def ingest(gw, points, key=None, source_id="rig-1", **extra):
    body = {"source_id": source_id, "points": points}
    body.update(extra)
    status, data, _ = http(gw, "POST", "/ingest", body, key=gw.key if key is None else key)
    return status, data


def device(gw, source_id="rig-1", key=None, acks=True, **auth):
    """A device socket after auth; returns (socket, authenticated reply)."""
    ws = websocket.create_connection(gw.ws_url + "/ws/device", timeout=60)
    frame = {"type": "device_auth", "api_key": gw.key if key is None else key, "source_id": source_id,
             "platform": "python-sdk", "agent_version": "0.16.0", "protocol": 1, "hears_goodbye": True}
    if acks:
        frame["acks"] = True
    frame.update(auth)
    ws.send(json.dumps(frame))
    return ws, recv(ws)


def recv(ws):
    """The next JSON frame, or {"type": "close", "code": N} when the gateway closed."""
    while True:
        op, data = ws.recv_data(control_frame=True)
        if op == websocket.ABNF.OPCODE_CLOSE:
            return {"type": "close", "code": int.from_bytes(data[:2], "big") if len(data) >= 2 else None,
                    "reason": data[2:].decode("utf-8", "replace")}
        if op in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
            return json.loads(data)


def next_of(ws, kind):
    while True:
        f = recv(ws)
        if f["type"] == kind:
            return f
        assert f["type"] != "close", "closed (%s) while waiting for %s" % (f, kind)


def point(i, metric="seq", ts=1760000000000):
    return {"class": "metric", "metric": metric, "value": i, "timestamp": ts + i}


