"""`Plexus`: the client facade. The work happens in the modules it wires up.

    from plexus import Plexus

    px = Plexus(api_key="plx_...", source_id="pump-07")
    px.send("coolant.temp_c", 81.4)
    px.event("state_change", {"from": "IDLE", "to": "PRIMING"})
    with px.run("hotfire-03"):
        ...
    px.close()

Durability (what a crash can lose)
----------------------------------
send() checks the reading (ValueError before anything is queued), appends it
to an in-memory queue and returns; it never touches the network or the disk
and never sleeps. A background thread commits the queue to the per-source
SQLite store (WAL, synchronous=FULL) at most `linger_ms` (default 20 ms)
after the first reading arrived, or sooner once a full batch is waiting.
From then on the reading survives a process kill and a power cut, and it is
deleted only after the gateway acknowledged storing it (telemetry_ack, or
HTTP 200). A kill or power cut can therefore lose only the readings of the
last linger window (those accepted in the ~20 ms before it); call persist()
to commit at once when that matters. With persistent_buffer=False the same
rules hold in bounded memory, and everything unacknowledged is lost with the
process. Batches carry ids, so a batch resent after a crash or reconnect is
stored once by a gateway that understands them (our local gateway does).

Errors found in the background (rejected key, readings dropped by the
gateway, an invalid reading isolated and dropped) are raised once from the
next send()/event()/send_batch()/flush_buffer() call; the reading passed to
that call is not queued. Counters: dropped_points, rate_limited_frames,
rejected_points, evicted_points.
"""

from __future__ import annotations

import atexit
import json
import threading
import time as _time
import weakref
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeAlias

from plexus_core.clock import Clock, epoch_shift_ms
from plexus_core.errors import PlexusError
from plexus_core.points import EVENT, METRIC, encode_point, encode_readings, make_point
from plexus.alerts import Alerts
from plexus.config import RetryConfig, Settings, buffer_path_for, legacy_buffer_path
from plexus.intake import DEFAULT_LINGER_MS, Intake
from plexus.sender import Sender
from plexus.store import MemoryStore, SqliteStore
from plexus import switch_interval
from plexus.buffer_lock import BufferLock

if TYPE_CHECKING:
    from plexus.batching import BatchSender
    from plexus.commands import Commands
    from plexus.runs import Runs
    from plexus.video import CameraStream

# What the public signatures take: a reading's value, its tags, a timestamp.
Value: TypeAlias = "float | int | str | bool | dict[str, Any] | list[Any]"
Tags: TypeAlias = "dict[str, str] | None"
Timestamp: TypeAlias = "float | int | None"

CLOSE_ACK_WAIT_S = 5.0
OWN_SOURCE = object()  # start_run()'s default: this client's source_id

# send()'s path for the bulk of traffic: a finite float or int, timestamped
# now, without tags. It writes the same text plexus_core.points.encode_point
# does (an f-string: the quickest way to it), without building the point;
# names are checked once, on the full path.
_FLOAT_MAX = 1.7976931348623157e308
_MAX_QUOTED_NAMES = 1024


class Plexus:
    """Client for sending readings to a Plexus gateway.

    Args:
        api_key: key (`plx_...`); else PLEXUS_API_KEY, else config.json.
        endpoint: app API base for runs; else PLEXUS_ENDPOINT, config, the
            configured gateway, or https://app.plexus.company. (A second
            positional argument without "://" is taken as the source_id.)
        source_id: this device's id; else config, else a generated one.
        timeout: seconds for each network operation (and flush waits).
        retry_config: spacing of HTTP retries (RetryConfig).
        max_buffer_size: readings kept while undelivered; oldest evicted
            (counted) beyond it. Default 500,000 on disk, 10,000 in memory.
        persistent_buffer: SQLite store (default True, or config.json's
            `persistent_buffer`); False keeps the same rules in memory.
        buffer_path: SQLite file; default ~/.plexus/buffer-<source_id>.db.
        ws_url: gateway WebSocket base; else PLEXUS_GATEWAY_WS_URL, config,
            or derived from the HTTP gateway URL.
        transport: "ws" (WebSocket, HTTP fallback) or "http" (HTTP only).
        gateway_url: gateway HTTP base; else PLEXUS_GATEWAY_URL, config, or
            derived from ws_url.
        linger_ms: how long readings gather before they are committed as a
            batch (the durability window, see the module docstring).
    """

    DEFAULT_DISK_BUFFER_POINTS = 500000
    DEFAULT_MEMORY_BUFFER_POINTS = 10000
    DISK_BUFFER_MAX_BYTES = 256 * 1024 * 1024

    def __init__(self, api_key: str | None = None, endpoint: str | None = None,
                 source_id: str | None = None, timeout: float = 10.0,
                 retry_config: RetryConfig | None = None, max_buffer_size: int | None = None,
                 persistent_buffer: bool | None = None, buffer_path: str | None = None,
                 ws_url: str | None = None, transport: str = "ws", gateway_url: str | None = None,
                 linger_ms: float = DEFAULT_LINGER_MS) -> None:
        if endpoint is not None and source_id is None and "://" not in str(endpoint):
            endpoint, source_id = None, endpoint  # Plexus(key, "pump-07")
        if transport not in ("ws", "http"):
            raise ValueError("transport must be 'ws' or 'http', got %r" % (transport,))
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError("timeout must be a positive number of seconds")
        s = Settings(api_key, source_id, endpoint, ws_url, gateway_url, persistent_buffer)
        self._settings = s
        self.api_key = s.api_key
        self.source_id = s.source_id
        self.endpoint = s.endpoint
        self.gateway_url = s.gateway_url
        self.ws_url = s.ws_url
        self.transport = transport
        self.timeout = float(timeout)
        self.retry_config = retry_config or RetryConfig()
        self._closed = False
        self._video_sender = None
        self._video_lock = threading.Lock()

        self._alerts = Alerts(secret=s.api_key)
        self._clock = Clock()
        self._now_ms = self._clock.now_ms
        self._shift_ms = epoch_shift_ms()
        self._quoted = {}  # metric name -> its JSON text, once checked
        self._store, self._lock = self._open_store(s, max_buffer_size, buffer_path)
        if getattr(self._store, "adopted", 0):
            self._alerts.say_once("adopted", "took over %d readings left by an earlier client"
                                  % self._store.adopted)
        self._sender = Sender(s, self._store, self._alerts, self._clock, transport,
                              self.timeout, self.retry_config, self._batch_points)
        self._intake = Intake(self._store, self._alerts, linger_ms, self._sender.committed)
        # Runs and commands load when first used (or, for commands, when the
        # gateway sends one): a client that only sends readings starts faster.
        self._layers_lock = threading.Lock()
        self._runs_layer = None
        self._commands_layer = None
        self._sender.on_command = self._first_command
        self._switch_interval = switch_interval.hold(switch_interval.CLIENT_S)  # delivery keeps up with a busy app
        self._sender.start()
        atexit.register(_persist_at_exit, weakref.ref(self))

    def _open_store(self, s, max_points, path):
        if not s.persistent_buffer:
            cap = self.DEFAULT_MEMORY_BUFFER_POINTS if max_points is None else max_points
            return MemoryStore(cap), None
        cap = self.DEFAULT_DISK_BUFFER_POINTS if max_points is None else max_points
        path = str(path or buffer_path_for(s.source_id))
        lock = BufferLock(path)
        try:
            adopt = () if self._custom_path(path, s) else (legacy_buffer_path(),)
            return SqliteStore(path, cap, self.DISK_BUFFER_MAX_BYTES, adopt), lock
        except BaseException:
            lock.release()
            raise

    @staticmethod
    def _custom_path(path, s):
        return path != str(buffer_path_for(s.source_id))

    def _batch_points(self):
        return self._intake.batch_points

    @property
    def _runs(self) -> Runs:
        with self._layers_lock:
            if self._runs_layer is None:
                from plexus.runs import Runs
                self._runs_layer = Runs(self._settings, self.timeout, self._now_ms,
                                        self._wait_for_clock)
            return self._runs_layer

    @property
    def _commands(self) -> Commands:
        with self._layers_lock:
            c = self._commands_layer
            if c is None:
                from plexus.commands import Commands
                c = self._commands_layer = Commands(self._sender, self._alerts)  # takes the sender's hooks
        if self._sender.authenticated:
            c._authenticated()  # this connection's auth happened before it existed
        return c

    def _first_command(self, frame):
        self._commands._frame(frame)

    def __repr__(self):
        return "Plexus(source_id=%r, gateway=%r)" % (self.source_id, self.gateway_url)

    # -- sending --------------------------------------------------------------------

    def send(self, metric: str, value: Value, timestamp: Timestamp = None, tags: Tags = None,
             data_class: str | None = None) -> bool:
        """Queue one reading; returns True once it is accepted for delivery.

        value: number (metric), or str/bool/dict/list (event). timestamp:
        epoch s, ms, µs or ns, or None for now on the server-corrected clock.
        Raises ValueError for bad input, before anything is queued."""
        q = self._quoted.get(metric)
        if (q is not None and timestamp is None and tags is None and data_class is None
                and (type(value) is float or type(value) is int)
                and -_FLOAT_MAX <= value <= _FLOAT_MAX):  # (False for NaN)
            ts = _time.time_ns() // 1000000 + self._shift_ms + self._clock.offset_ms
            text = f'{{"class":"metric","metric":{q},"value":{value!r},"timestamp":{ts}}}'
        else:
            p = make_point(metric, value, timestamp, tags, data_class, self._now_ms)
            text = encode_point(p)
            if p["class"] == METRIC and type(metric) is str:
                if len(self._quoted) >= _MAX_QUOTED_NAMES:
                    self._quoted = {}
                self._quoted[metric] = json.dumps(metric)
        if self._alerts.pending:
            self._alerts.raise_pending()
        if self._closed:
            raise PlexusError("this Plexus client is closed; create a new one")
        self._intake.put(text)
        return True

    def event(self, name: str, data: Value, timestamp: Timestamp = None, tags: Tags = None) -> bool:
        """Queue a named event (text, number, bool, dict or list)."""
        return self.send(name, data, timestamp, tags, EVENT)

    def send_batch(self, points: Iterable[Sequence[Any]], timestamp: Timestamp = None,
                   tags: Tags = None) -> bool:
        """Queue [(metric, value)] or [(metric, value, timestamp)] readings.

        All are checked first: one bad reading raises ValueError and none is
        queued. `timestamp` (default: now, once) applies to 2-tuples."""
        encoded = encode_readings(points, timestamp, tags, self._now_ms)
        if self._alerts.pending:
            self._alerts.raise_pending()
        if self._closed:
            raise PlexusError("this Plexus client is closed; create a new one")
        if encoded:
            self._intake.put_many(encoded)
        return True

    def batch(self, interval_ms: float = 100.0, max_points: int = 5000,
              max_pending: int = 200000) -> BatchSender:
        """plexus-python 0.16's coalescing sender; send() already coalesces, so
        this forwards to the client and needs no `with`."""
        from plexus.batching import BatchSender
        return BatchSender(self, interval_ms, max_points, max_pending)

    # -- the buffer --------------------------------------------------------------------

    def buffer_size(self) -> int:
        """Readings accepted and not yet acknowledged by the gateway."""
        waiting = self._intake.waiting()  # (first: see Intake._commit)
        return waiting + self._store.points

    def persist(self, timeout: float | None = None) -> bool:
        """Commit every accepted reading to the store now; True when done."""
        return self._intake.persist(self.timeout if timeout is None else timeout)

    def flush_buffer(self, timeout: float | None = None) -> bool:
        """Deliver everything now and wait until a gateway confirmed it.

        Returns True only when the gateway confirmed storing every reading:
        an acknowledgement on the WebSocket, or, from a gateway that does
        not acknowledge telemetry (the hosted one), a 200 from POST /ingest
        whose `count` covers the whole batch. A mere socket write never
        counts. False when the gateway could not be reached or did not
        confirm within `timeout` (default: the client timeout); the readings
        then stay queued and go out later."""
        t = self.timeout if timeout is None else timeout
        if self._closed:
            return self.buffer_size() == 0
        self._intake.persist(t)
        self._sender.kick()
        done = self._sender.wait_delivered(t, self._intake.waiting)
        if self._alerts.pending:
            self._alerts.raise_pending()
        return done

    @property
    def max_buffer_size(self) -> int:
        return self._store.max_points

    @max_buffer_size.setter
    def max_buffer_size(self, value: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise ValueError("max_buffer_size must be a positive int")
        self._alerts.evicted(self._store.resize(value))
        self._intake.refresh()

    # -- counters and state ----------------------------------------------------------------

    @property
    def dropped_points(self) -> int:
        """Kept for compatibility, stays 0: readings a gateway answers as not
        stored (a short `count` or `dropped`) are sent again, not given up."""
        return self._alerts.dropped_points

    @property
    def rate_limited_frames(self) -> int:
        """Frames the gateway refused or dropped for a rate or plan limit."""
        return self._alerts.rate_limited_frames

    @property
    def rejected_points(self) -> int:
        """Readings the gateway refused as invalid; isolated and dropped."""
        return self._alerts.rejected_points

    @property
    def evicted_points(self) -> int:
        """Oldest readings dropped because the buffer was full."""
        return self._alerts.evicted_points

    @property
    def connected(self) -> bool:
        """True while the WebSocket is authenticated."""
        return self._sender.authenticated

    @property
    def clock_offset_ms(self) -> int:
        """Server time minus local time, learned with round-trip compensation."""
        return self._clock.offset_ms

    def _wait_for_clock(self):
        """Runs start on the server clock: give the first sync a moment."""
        if self.transport == "ws" and not self._clock.synced:
            import time
            deadline = time.monotonic() + min(self.timeout, 3.0)
            while not self._clock.synced and time.monotonic() < deadline:
                time.sleep(0.02)

    # -- runs ----------------------------------------------------------------------------

    def start_run(self, name: str, source_id: str | None = OWN_SOURCE, tags: Tags = None,
                  metadata: dict[str, Any] | None = None, pass_criteria: dict[str, Any] | None = None,
                  started_at: Timestamp = None) -> dict[str, Any]:
        """Open a test run (app API); returns the run dict with its "id"."""
        runs = self._runs
        if source_id is OWN_SOURCE:
            from plexus.runs import OWN_SOURCE as own
            source_id = own
        return runs.start(name, source_id, tags, metadata, pass_criteria, started_at)

    def end_run(self, run: dict[str, Any] | str, status: str = "completed",
                ended_at: Timestamp = None) -> dict[str, Any]:
        """Close a run ("completed" or "aborted"); returns the updated run."""
        return self._runs.end(run, status, ended_at)

    def run(self, name: str, tags: Tags = None, store_frames: bool | None = None,
            **kwargs: Any) -> AbstractContextManager[dict[str, Any]]:
        """`with px.run("hotfire-03"):` opens a run and closes it completed, or
        aborted on an exception. Takes start_run()'s keywords (and 0.5.2's
        `tags`, `store_frames`)."""
        return self._runs.window(name, tags=tags, store_frames=store_frames, **kwargs)

    # -- video (plexus.video does the work) -----------------------------------------------

    def _video(self):
        with self._video_lock:
            if self._video_sender is None:
                from plexus.video import VideoSender
                self._video_sender = VideoSender(send_binary=self._sender.send_binary,
                                                 source_id=self.source_id, now_ms=self._now_ms)
            return self._video_sender

    def send_video_frame(self, frame: Any, camera_id: str = "camera:0", quality: int = 85,
                         timestamp: Timestamp = None) -> bool:
        return self._video().send_frame(frame, camera_id=camera_id, quality=quality,
                                        timestamp=timestamp)

    def stream_camera(self, url: str | int, camera_id: str = "camera:0", fps: float = 15,
                      quality: int = 85) -> CameraStream:
        return self._video().stream_camera(url, camera_id=camera_id, fps=fps, quality=quality)

    # -- commands (plexus.commands does the work) -----------------------------------------

    def command(self, name: str | Callable[..., Any] | None = None, params: dict[str, Any] | None = None,
                danger: str = "normal", idempotent: bool = False, expires_in: float = 30.0,
                concurrency: str = "accept", title: str | None = None,
                description: str | None = None) -> Any:
        """Decorator declaring a command (protocol v1): handler(run, **params).
        See plexus.commands; bad declarations raise CommandDeclarationError."""
        return self._commands.command(name, params=params, danger=danger, idempotent=idempotent,
                                      expires_in=expires_in, concurrency=concurrency,
                                      title=title, description=description)

    def on_command(self, name: str, handler: Callable[[str, dict[str, Any]], Any],
                   description: str | None = None, params: dict[str, Any] | None = None,
                   concurrency: str = "accept") -> None:
        """Legacy command: handler(command, params) -> result dict."""
        return self._commands.on_command(name, handler, description, params, concurrency)

    def serve(self, timeout: float | None = None) -> bool:
        """Block answering commands until Ctrl-C/SIGTERM, stop_serving() or timeout."""
        return self._commands.serve(timeout)

    def stop_serving(self) -> None:
        if self._commands_layer is not None:
            self._commands.stop_serving()

    # -- shutdown ----------------------------------------------------------------------------

    def close(self) -> None:
        """Commit, wait a bounded time (<= 5 s, less when offline) for the
        gateway's acknowledgements, stop, and keep the rest on disk."""
        if self._closed:
            return
        self._closed = True
        self.stop_serving()
        self._intake.close(self.timeout)
        if self._store.points:
            self._sender.kick()
            self._sender.wait_delivered(min(self.timeout, CLOSE_ACK_WAIT_S))
        with self._video_lock:
            video, self._video_sender = self._video_sender, None
        if video is not None:
            try:
                video.close()
            except Exception:
                pass
        stopped = self._sender.stop(2.0)
        if stopped:
            self._store.close()
        if self._lock is not None:
            self._lock.release()
        switch_interval.release(self._switch_interval)

    def __enter__(self) -> Plexus:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.close()
        return False

    def __del__(self):
        try:
            if not self._closed:
                self._intake.persist(1.0)
        except Exception:
            pass


def _persist_at_exit(ref):
    """At interpreter exit, commit what the last linger window holds."""
    px = ref()
    if px is not None and not px._closed:
        try:
            px._intake.persist(2.0)
        except Exception:
            pass


def __getattr__(name):
    if name == "read_mjpeg_frames":  # plexus-python exported it from plexus.client
        from plexus.video import read_mjpeg_frames
        return read_mjpeg_frames
    raise AttributeError(name)
