"""Devices for the dashboard tests: the real client sending readings, and a
device that declares commands and answers them over the real device socket
(the protocol frames of docs/protocol.md §4.10-4.11, written out plainly)."""

import json
import math
import threading
import time

import websocket

from plexus import Plexus


class Streamer:
    """A real Plexus client sending `metrics` every `period_s` until stopped."""

    def __init__(self, gw, source_id, buffer_dir, metrics=("temp.c", "motor.rpm"), period_s=0.05):
        self.px = Plexus(api_key=gw.key, source_id=source_id, gateway_url=gw.url,
                         buffer_path=str(buffer_dir / ("buffer-%s.db" % source_id)))
        self.metrics = list(metrics)
        self.period_s = period_s
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        t0 = time.monotonic()
        n = 0
        while not self._stop.is_set():
            t = time.monotonic() - t0
            self.px.send_batch([(m, 20 + 5 * math.sin(t + i) + i) for i, m in enumerate(self.metrics)])
            self.sent += len(self.metrics)
            n += 1
            self._stop.wait(max(0.0, t0 + n * self.period_s - time.monotonic()))

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        self.px.close()


class CommandDevice:
    """Declares commands (v1 and legacy) and answers each one it receives."""

    def __init__(self, gw, source_id, manifest, handler, protocol=1):
        self.protocol = protocol        # None: a plexus-python 0.5 device (legacy manifest)
        self.url = gw.ws_url + "/ws/device"
        self.key = gw.key
        self.source_id = source_id
        self.manifest = manifest
        self.handler = handler          # (command, params) -> result dict
        self.received = []
        self.authenticated = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        if not self.authenticated.wait(60):
            raise AssertionError("the command device did not authenticate")
        return self

    def _run(self):
        ws = websocket.create_connection(self.url, timeout=30)
        auth = {"type": "device_auth", "api_key": self.key, "source_id": self.source_id,
                "platform": "python-sdk", "agent_version": "test", "commands": self.manifest}
        if self.protocol:
            auth["protocol"] = self.protocol
        ws.send(json.dumps(auth))
        reply = json.loads(ws.recv())
        if reply.get("type") != "authenticated":
            raise AssertionError("auth failed: %r" % reply)
        self.authenticated.set()
        ws.settimeout(0.5)
        while not self._stop.is_set():
            try:
                text = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException):
                return
            if not text:
                return
            f = json.loads(text)
            self.received.append(f)
            if f.get("type") == "command_run":
                self._run_v1(ws, f)
            elif f.get("type") == "typed_command":
                result = self.handler(f["command"], f.get("params") or {})
                for ev in ({"event": "ack"}, {"event": "result", "result": result}):
                    ws.send(json.dumps(dict(ev, type="command_result", id=f["id"], command=f["command"])))
        ws.close()

    def _run_v1(self, ws, f):
        def status(seq, state, **kw):
            ws.send(json.dumps(dict(kw, type="command_status", run_id=f["run_id"], seq=seq, state=state)))
        status(1, "acknowledged")
        status(2, "running")
        status(3, "succeeded", result=self.handler(f["command"], f.get("params") or {}))

    def stop(self):
        self._stop.set()
        self._thread.join(10)
