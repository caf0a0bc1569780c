"""Replicas of one gateway sharing a database: who holds which device, and
what each replica must hear from the others.

Every replica runs a Cluster on a Bus (bus.py). It
- records and announces each device socket it holds (presence), in the
  database and on the bus, in one transaction; every 1 s a heartbeat says it
  is alive and which sources its viewers watch. A replica not heard for
  EXPIRE_MS is taken for dead: its presence is forgotten (and its rows
  deleted by whoever notices first).
- when a source connects through another replica, closes its own older
  socket of that source (the newest connection wins, as on one gateway);
- delivers command runs and legacy commands stored by another replica for a
  device it holds (the store announces them in the storing transaction);
- relays points (announced by the store in the storing transaction) and
  video frames to its own viewers, and sends them only to replicas whose
  viewers watch that source.
"""

import asyncio
import logging
import os
import socket
import time
import uuid

from plexus.gateway.bus import encode
from plexus.gateway.store import now_ms

log = logging.getLogger("plexus.gateway")

HEARTBEAT_S = 1.0
EXPIRE_MS = 5000
MAX_WATCHED = 100          # more watched sources than this are announced as "every source"
VIDEO_IN_FLIGHT = 8        # video frames being sent to the bus at once; more are dropped (live, lossy)


def _mono_ms():
    return int(time.monotonic() * 1000)


class Cluster:
    def __init__(self, store, hub, commands, bus, replica_id=None):
        self.store = store
        self.hub = hub
        self.commands = commands
        self.bus = bus
        self.id = replica_id or "%s-%d-%s" % (socket.gethostname(), os.getpid(), uuid.uuid4().hex[:6])
        self.conn_ids = {}            # DeviceConn -> conn_id
        self.remote = {}              # source_id -> {conn_id: replica_id}, newest last
        self.heard = {}               # replica_id -> monotonic ms of its last message
        self.watching = {}            # replica_id -> (points: set or "*", video: set or "*")
        self._changes = asyncio.Queue()
        self._tasks = []
        self._video_in_flight = 0
        self._my_watch = None
        self._restate = False       # a presence change failed: state everything at the next heartbeat

    # -- life cycle ----------------------------------------------------------------------
    async def start(self):
        await self.bus.start(self._on_message, self._bus_back)
        await self.resync()
        self._tasks = [asyncio.ensure_future(self._heartbeats()), asyncio.ensure_future(self._presence_writer()),
                       asyncio.ensure_future(self._watch_changes())]
        log.info("replica %s joined the cluster", self.id)

    async def stop(self):
        for t in self._tasks:
            t.cancel()
        try:
            await self.store.replica_leave(self.id, encode({"t": "bye", "r": self.id}))
        except OSError as e:
            log.warning("replica %s could not say goodbye: %s", self.id, e)
        await self.bus.close()

    async def _bus_back(self, lost_ms):
        """Messages sent while the bus was down are lost: restate presence, and
        deliver runs for our devices that were announced meanwhile."""
        await self.resync()
        for sid in list(self.hub.devices):
            await self._catch_up(sid, lost_ms - 1000)

    async def resync(self):
        """(Re)state what this replica holds, and reload what the others hold."""
        held = [(c.source_id, cid) for c, cid in self.conn_ids.items()]
        await self.store.replica_sync(self.id, held, encode({"t": "sync", "r": self.id, "h": held}))
        rows = await self.store.presence_rows(EXPIRE_MS)
        self.remote = {}
        now = _mono_ms()
        for sid, rid, cid in rows:
            if rid != self.id:
                self.remote.setdefault(sid, {})[cid] = rid
                self.heard.setdefault(rid, now)

    # -- what the hub asks ---------------------------------------------------------------
    def held_elsewhere(self, source_id):
        """True when a live replica other than this one holds a socket of the source."""
        conns = self.remote.get(source_id)
        if not conns:
            return False
        now = _mono_ms()
        return any(now - self.heard.get(r, 0) < EXPIRE_MS for r in conns.values())

    def attached(self, conn):
        cid = self.conn_ids[conn] = uuid.uuid4().hex[:12]
        self._changes.put_nowait((True, conn.source_id, cid, now_ms()))

    def detached(self, conn):
        cid = self.conn_ids.pop(conn, None)
        if cid is not None:
            self._changes.put_nowait((False, conn.source_id, cid, now_ms()))

    async def _presence_writer(self):
        """Presence changes in the order they happened, each stored and announced together."""
        while True:
            attach, sid, cid, t = await self._changes.get()
            msg = {"t": "attach" if attach else "detach", "r": self.id, "s": sid, "c": cid}
            try:
                await self.store.presence_change(attach, sid, self.id, cid, encode(msg))
                if attach:
                    await self._catch_up(sid, t)
            except Exception as e:  # the database is away: the next heartbeat restates presence
                self._restate = True
                log.warning("presence of %s not recorded: %s", sid, e)

    async def _catch_up(self, sid, since_ms):
        """A run stored by another replica after this device attached but before
        its presence row was committed was announced to nobody; the device's
        connect-time delivery read the runs older than that. Deliver those now
        (run times come from the replicas' clocks: keep them in sync with NTP)."""
        conn = self.hub.device(sid)
        for run in await self.store.open_runs(sid) if conn is not None else []:
            if (run["attempt"] == 0 and run["state"] == "queued" and run["created_ms"] > since_ms
                    and now_ms() < run["deadline_ms"]):
                await self.commands._deliver(conn, run)

    # -- what the store announces (payloads sent inside its transactions) ----------------------
    def _watched_elsewhere(self, source_id, kind):
        now = _mono_ms()
        for rid, watch in self.watching.items():
            w = watch[kind]
            if now - self.heard.get(rid, 0) < EXPIRE_MS and (w == "*" or source_id in w):
                return True
        return False

    def points_payloads(self, source_id, points):
        if not self._watched_elsewhere(source_id, 0):
            return []
        pts = [[p["metric"], p["class"], p["value"], p["timestamp"], p.get("tags")] for p in points]
        return encode({"t": "pts", "r": self.id, "s": source_id, "p": pts})

    def run_payloads(self, run):
        """For a run not yet delivered (the store sends it only if another replica holds the device)."""
        if run["attempt"] == 0 and run["state"] == "queued" and self.hub.device(run["source_id"]) is None:
            return encode({"t": "run", "r": self.id, "s": run["source_id"], "id": run["run_id"]})
        return []

    def command_payloads(self, cid, source_id):
        if self.held_elsewhere(source_id):
            return encode({"t": "cmd", "r": self.id, "s": source_id, "id": cid})
        return []

    def relay_video(self, frame):
        """Fire and forget: a live frame to replicas whose viewers watch its source."""
        if not self._watched_elsewhere(frame["source_id"], 1) or self._video_in_flight >= VIDEO_IN_FLIGHT:
            return
        self._video_in_flight += 1

        async def send():
            try:
                await self.bus.send({"t": "vid", "r": self.id, "f": frame})
            except Exception as e:  # live video is lossy by design
                log.debug("video frame not relayed: %s", e)
            finally:
                self._video_in_flight -= 1
        asyncio.ensure_future(send())

    # -- heartbeats and watched sources --------------------------------------------------------
    def _watch(self):
        def of(viewers):
            ids = set()
            for v in viewers:
                if v.source_id == "*":
                    return "*"
                ids.add(v.source_id)
            return sorted(ids) if len(ids) <= MAX_WATCHED else "*"
        return [of(self.hub.metric_viewers | self.hub.log_viewers), of(self.hub.video_viewers)]

    def _beat(self):
        return encode({"t": "hb", "r": self.id, "w": self._my_watch or self._watch()})

    async def _heartbeats(self):
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                known = await self.store.replica_heartbeat(self.id, self._beat(), EXPIRE_MS)
                if not known or self._restate:  # taken for dead, or a presence change was not stored
                    self._restate = False
                    await self.resync()
            except Exception as e:  # the database is away (or worse): keep beating
                log.warning("replica heartbeat failed: %s", e)
            now = _mono_ms()
            for sid in list(self.remote):
                conns = self.remote[sid]
                for cid, rid in list(conns.items()):
                    if now - self.heard.get(rid, 0) >= EXPIRE_MS:
                        del conns[cid]
                if not conns:
                    del self.remote[sid]

    async def _watch_changes(self):
        """A new viewer is announced at once (not at the next heartbeat), so it
        sees readings sent through other replicas right away."""
        while True:
            await asyncio.sleep(0.05)
            w = self._watch()
            if w != self._my_watch:
                self._my_watch = w
                try:
                    await self.bus.send({"t": "hb", "r": self.id, "w": w})
                except Exception as e:
                    log.warning("could not announce watched sources: %s", e)

    # -- messages from other replicas -------------------------------------------------------------
    def _on_message(self, msg):
        rid = msg.get("r")
        if rid == self.id:
            return
        t = msg.get("t")
        was_dead = _mono_ms() - self.heard.get(rid, -EXPIRE_MS) >= EXPIRE_MS
        self.heard[rid] = _mono_ms()
        if t == "hb":
            w = msg.get("w") or [[], []]
            self.watching[rid] = tuple(x if x == "*" else set(x) for x in w)
            if was_dead:
                asyncio.ensure_future(self._reload(rid))
        elif t == "attach":
            self.remote.setdefault(msg["s"], {})[msg["c"]] = rid
            for conn in list(self.hub.devices.get(msg["s"], [])):  # our older socket of that source
                asyncio.ensure_future(conn.ws.close(code=1001, message=b"reconnected through another replica"))
        elif t == "sync":  # everything that replica holds, replacing what we knew of it
            self._forget(rid)
            for sid, cid in msg["h"]:
                self.remote.setdefault(sid, {})[cid] = rid
        elif t == "detach":
            conns = self.remote.get(msg["s"], {})
            conns.pop(msg["c"], None)
            if not conns:
                self.remote.pop(msg["s"], None)
        elif t == "bye":
            self.heard.pop(rid, None)
            self.watching.pop(rid, None)
            self._forget(rid)
        elif t == "pts":
            pts = [{"metric": p[0], "class": p[1], "value": p[2], "timestamp": p[3], "tags": p[4]}
                   for p in msg["p"]]
            self.hub.publish_points(msg["s"], pts)
        elif t == "vid":
            self.hub.publish_video(msg["f"], relay=False)
        elif t == "run" and self.hub.device(msg["s"]) is not None:
            asyncio.ensure_future(self._deliver_run(msg["s"], msg["id"]))
        elif t == "cmd" and self.hub.device(msg["s"]) is not None:
            asyncio.ensure_future(self._deliver_command(msg["s"], msg["id"]))

    def _forget(self, rid):
        for sid in list(self.remote):
            self.remote[sid] = {c: r for c, r in self.remote[sid].items() if r != rid}
            if not self.remote[sid]:
                del self.remote[sid]

    async def _reload(self, rid):
        for sid, r, cid in await self.store.presence_rows(EXPIRE_MS, rid):
            self.remote.setdefault(sid, {})[cid] = r

    async def _deliver_run(self, sid, run_id):
        conn = self.hub.device(sid)
        run = await self.store.get_run(run_id)
        if conn is None or run is None or run["source_id"] != sid:
            return
        if run["attempt"] == 0 and run["state"] == "queued" and now_ms() < run["deadline_ms"]:
            await self.commands._deliver(conn, run)

    async def _deliver_command(self, sid, cid):
        conn = self.hub.device(sid)
        cmd = await self.store.get_command(sid, cid)
        if conn is not None and cmd is not None:
            await conn.send({"type": "typed_command", "id": cid, "command": cmd["command"],
                             "params": cmd["params"]})
