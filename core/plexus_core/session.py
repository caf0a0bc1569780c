"""The device side of /ws/device as a sans-I/O state machine.

Events in (server frame text, the time), frame text out; sockets, threads
and storage belong to the caller. One DeviceSession lives as long as the
client and is restarted with start() on every connection:

    text = s.start(now)                    # send it: device_auth
    for ev in s.receive(text_from_server, now): ...
    if s.can_send(n): ws.send(s.telemetry(points, batch_id, n, now))
    s.lost()                               # connection ended: ids to resend

A batch counts as delivered only when the gateway acknowledges it: (ACKED,
keys). A frame carries the caller's storage key (its batch id unless one is
given), so an acknowledgement names what to delete. On a gateway that does
not acknowledge, nothing sent here is ever confirmed: plexus_core.delivery
sends telemetry over HTTP there. The API key is only ever in the auth frame
text; never log frames.
"""

import json

from plexus_core import frames, limits

CLOSED = 0
AUTHENTICATING = 1
READY = 2

# Event kinds returned by receive(): tuples whose first item is one of these.
AUTHENTICATED = "authenticated"  # (AUTHENTICATED, reply dict)
AUTH_FAILED = "auth_failed"      # (AUTH_FAILED, message, code)
ACKED = "acked"                  # (ACKED, [key, ...]) stored: delete them
REJECTED = "rejected"            # (REJECTED, key, code, detail) not stored
ERROR = "error"                  # (ERROR, code, detail) not tied to a batch
COMMAND = "command"              # (COMMAND, frame dict) typed_command, command_run, ...
IGNORED = "ignored"              # (IGNORED, frame or text) unknown/invalid input

# Gateway error codes that mean "not stored because of a limit": the batch is
# intact and should be sent again later, not split or dropped.
LIMIT_CODES = ("RATE_LIMITED", "SOURCE_LIMIT", "DEVICE_LIMIT")
COMMAND_TYPES = ("typed_command", "command_run", "command_status_ack", "command_cancel")


class DeviceSession:
    def __init__(self, api_key, source_id, agent_version, platform="python-sdk",
                 clock=None, offer_acks=True,
                 window_frames=limits.ACK_WINDOW_FRAMES,
                 window_points=limits.ACK_WINDOW_POINTS):
        self.api_key = api_key
        self.source_id = source_id
        self.agent_version = agent_version
        self.platform = platform
        self.clock = clock
        self.offer_acks = offer_acks
        self.window_frames = window_frames
        self.window_points = window_points
        self.commands = None       # manifest list for device_auth, set by the caller
        self.state = CLOSED
        self.acks = False          # gateway acknowledges telemetry on this connection
        self.max_frame_bytes = limits.WS_FRAME_TARGET
        self.store_results = True
        self.protocol = 1          # commands protocol of the gateway (0: typed_command only)
        self._seq = 0
        self._window = []          # [seq, key, npoints, sent_ms], oldest first
        self._window_points = 0
        self._auth_sent_ms = 0
        self._last_heartbeat_ms = 0
        self._sync_sent = None

    # -- connection lifecycle -------------------------------------------------

    def start(self, now_ms):
        """A new connection is open: returns the device_auth frame text."""
        self.lost()
        self.state = AUTHENTICATING
        self._auth_sent_ms = now_ms
        f = {"type": "device_auth", "api_key": self.api_key,
             "source_id": self.source_id, "platform": self.platform,
             "agent_version": self.agent_version, "protocol": 1,
             "hears_goodbye": True}
        if self.offer_acks:
            f["acks"] = True
        if self.commands:
            f["commands"] = self.commands
        return json.dumps(f, separators=(",", ":"))

    def lost(self):
        """The connection ended (any reason): returns the keys of unacknowledged
        frames, oldest first. They were not confirmed stored: keep and resend them."""
        ids = [w[1] for w in self._window]
        self._window = []
        self._window_points = 0
        self._seq = 0
        self.state = CLOSED
        self.acks = False
        self._sync_sent = None
        return ids

    def auth_overdue(self, now_ms):
        return (self.state == AUTHENTICATING
                and now_ms - self._auth_sent_ms >= limits.AUTH_TIMEOUT_MS)

    # -- telemetry --------------------------------------------------------------

    def can_send(self, npoints):
        if self.state != READY:
            return False
        if not self.acks:
            return True
        if not self._window:
            return True  # one batch always fits an empty window
        return (len(self._window) < self.window_frames
                and self._window_points + npoints <= self.window_points)

    def telemetry(self, encoded_points, batch_id, now_ms, npoints=None, key=None):
        """Frame text for one batch; it is in flight until acked or lost().

        `npoints` counts the readings when encoded_points holds them already
        joined (one string of "p1,p2,..."), as a store of whole batches does.
        `key` is what acks, rejections and lost() name it by (default: the
        batch id), e.g. the row or segment number in the caller's store."""
        if self.state != READY:
            raise ValueError("telemetry before the connection is authenticated")
        if not self.acks:
            return frames.telemetry_frame(encoded_points, None, batch_id)
        if npoints is None:
            npoints = len(encoded_points)
        self._seq += 1
        self._window.append([self._seq, batch_id if key is None else key, npoints, now_ms])
        self._window_points += npoints
        return frames.telemetry_frame(encoded_points, self._seq, batch_id)

    def unsend(self, key):
        """The local write of the newest frame failed: forget it."""
        if self._window and self._window[-1][1] == key:
            w = self._window.pop()
            self._window_points -= w[2]
            self._seq -= 1

    def in_flight(self):
        """Keys written and not yet acknowledged, oldest first."""
        return [w[1] for w in self._window]

    def newest_in_flight(self):
        """The key of the newest frame in flight, or None."""
        return self._window[-1][1] if self._window else None

    def ack_overdue(self, now_ms):
        """The oldest unacked frame waited too long: drop the connection."""
        return bool(self._window) and now_ms - self._window[0][3] >= limits.ACK_TIMEOUT_MS

    # -- keepalive and clock ------------------------------------------------------

    def heartbeat(self, now_ms, uptime_s=None, interval_ms=limits.HEARTBEAT_MS):
        """A heartbeat frame when one is due, else None.

        It carries `sync` (our extension, ignored by hosted gateways); a
        gateway that answers {"type":"time","sync":..,"server_time_ms":..}
        refreshes the clock offset with round-trip compensation."""
        if self.state != READY or now_ms - self._last_heartbeat_ms < interval_ms:
            return None
        self._last_heartbeat_ms = now_ms
        self._sync_sent = now_ms
        f = {"type": "heartbeat", "source_id": self.source_id,
             "agent_version": self.agent_version, "sync": now_ms}
        if uptime_s is not None:
            f["uptime_s"] = uptime_s
        return json.dumps(f, separators=(",", ":"))

    # -- receiving ------------------------------------------------------------

    def receive(self, text, now_ms):
        """Parse one server text frame; returns a list of events."""
        try:
            f = json.loads(text)
        except (ValueError, TypeError):
            return [(IGNORED, text)]
        if not isinstance(f, dict):
            return [(IGNORED, f)]
        t = f.get("type")
        if t == "authenticated":
            return self._authenticated(f, now_ms)
        if t == "telemetry_ack":
            seq = _seq_of(f)
            return [(ACKED, self._release(seq))] if seq else [(IGNORED, f)]
        if t == "error":
            return self._error(f)
        if t == "time":
            self._time(f, now_ms)
            return []
        if t in COMMAND_TYPES:
            return [(COMMAND, f)]
        return [(IGNORED, f)]

    def _authenticated(self, f, now_ms):
        if self.state != AUTHENTICATING:
            return [(IGNORED, f)]
        self.state = READY
        self.acks = self.offer_acks and f.get("acks") is True
        m = f.get("max_frame_bytes")
        if type(m) is int and m > 0:
            self.max_frame_bytes = m if m < limits.WS_FRAME_TARGET else limits.WS_FRAME_TARGET
        self.store_results = f.get("store_results") is not False
        p = f.get("protocol")
        self.protocol = p if type(p) is int else 0
        self._last_heartbeat_ms = now_ms
        if self.clock is not None:
            self.clock.sample(f.get("server_time_ms"), now_ms - self._auth_sent_ms)
        return [(AUTHENTICATED, f)]

    def _time(self, f, now_ms):
        if self.clock is not None and self._sync_sent is not None and f.get("sync") == self._sync_sent:
            self.clock.sample(f.get("server_time_ms"), now_ms - self._sync_sent)
            self._sync_sent = None

    def _error(self, f):
        code = f.get("code")
        detail = f.get("detail") or f.get("message") or ""
        if self.state == AUTHENTICATING:
            return [(AUTH_FAILED, str(detail or code or "auth failed"), code)]
        seq = _seq_of(f)
        if not seq:
            return [(ERROR, code, detail)]
        # An error with seq N releases every frame <= N: those before N were
        # stored (acks are cumulative), frame N itself was not.
        rejected = None
        if self._window and self._window[-1][0] >= seq:
            for w in self._window:
                if w[0] == seq:
                    rejected = w[1]
        ids = self._release(seq)
        ev = []
        if rejected is not None:
            ids.remove(rejected)
        if ids:
            ev.append((ACKED, ids))
        if rejected is not None:
            ev.append((REJECTED, rejected, code, detail))
        else:
            ev.append((ERROR, code, detail))
        return ev

    def _release(self, seq):
        ids = []
        w = self._window
        while w and w[0][0] <= seq:
            e = w.pop(0)
            self._window_points -= e[2]
            ids.append(e[1])
        return ids


def _seq_of(f):
    s = f.get("seq")
    if type(s) is int and s > 0:
        return s
    return 0
