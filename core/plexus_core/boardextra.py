"""The board client's less used calls, loaded on first use (board.Plexus
.__getattr__): send_batch, commands, run windows, the asyncio task, counters, and a
clear error for what only the CPython package can do."""

from plexus_core.errors import NotOnBoardError, PlexusError


def get(px, name):
    if name == "evicted_points":  # oldest readings dropped because the flash log was full
        return px._log.evicted
    if name == "discarded_segments":  # torn or corrupt segments found on flash
        return px._log.discarded
    if name == "connected":
        return px._link.connected()
    if name == "clock_offset_ms":  # gateway time minus board time
        return px._clock.offset_ms
    if name in ("command", "on_command"):
        # @px.command / px.on_command: declared to the gateway on the next
        # connection; handlers run inline from poll() (plexus_core.board_commands)
        if px._commands is None:
            if px.transport != "ws":
                raise NotOnBoardError("commands arrive over the device WebSocket: create "
                                      "the client with transport='ws'")
            from plexus_core.board_commands import BoardCommands
            px._commands = BoardCommands(px._mono.ms)
        return getattr(px._commands, name)
    if name == "send_batch":
        return lambda points, timestamp=None, tags=None: send_batch(px, points, timestamp, tags)
    if name == "run":
        return lambda name, tags=None, **kw: Run(px, name, tags)
    if name == "poll_task":
        return lambda period_ms=100: poll_task(px, period_ms)
    if name in ("send_video_frame", "stream_camera"):
        def cpython_only(*a, **kw):
            raise NotOnBoardError("%s() needs the CPython package (pip install 'plexus[video]' "
                                  "on a Linux computer); a board has no video" % name)
        return cpython_only
    raise AttributeError(name)


def send_batch(px, points, timestamp=None, tags=None):
    """Queue [(metric, value)] or [(metric, value, timestamp)] readings; all
    are checked first, so one bad reading raises and none is queued."""
    from plexus_core import points as pm
    now = px._clock.now_ms
    shared = pm.point_timestamp(timestamp, now)
    enc = []
    for i, item in enumerate(points):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError("send_batch item %d must be (metric, value) or "
                             "(metric, value, timestamp), got %r" % (i, item))
        ts = item[2] if len(item) == 3 and item[2] is not None else shared
        enc.append(pm.encode_point(pm.make_point(item[0], item[1], ts, tags, None, now)))
    for e in enc:
        px._add(e)
    return True


class Run:
    """`with px.run("hotfire-03"):` marks a test run in the stream: a `run`
    event when it starts and one when it ends (completed, or aborted on an
    exception), on the same clock as the readings."""

    def __init__(self, px, name, tags):
        if not isinstance(name, str) or not name:
            raise ValueError("run name must be a non-empty string, e.g. 'hotfire-03'")
        self.px = px
        self.name = name
        self.tags = tags

    def __enter__(self):
        self.px.event("run", {"name": self.name, "status": "started"}, tags=self.tags)
        return self

    def __exit__(self, typ, exc, tb):
        self.px.event("run", {"name": self.name,
                              "status": "aborted" if typ else "completed"}, tags=self.tags)
        return False


async def poll_task(px, period_ms):
    """For asyncio programs: asyncio.create_task(px.poll_task())."""
    import asyncio
    while not px._closed:
        try:
            px.poll()
        except PlexusError as e:
            px.last_error = str(e)
        if hasattr(asyncio, "sleep_ms"):
            await asyncio.sleep_ms(period_ms)
        else:
            await asyncio.sleep(period_ms / 1000)
