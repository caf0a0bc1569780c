"""The bus on PostgreSQL LISTEN/NOTIFY (see bus.py).

One connection of its own listens on the channel; sending is `pg_notify`,
either by the store inside the transaction that stored what the message
announces (nothing is announced before it is stored) or here, for messages
about nothing stored (heartbeats, video frames). PostgreSQL delivers
notifications in commit order, only to sessions listening at commit time:
after the listening connection is lost, on_reconnect() lets the replica
reload what it may have missed from the tables.
"""

import asyncio
import logging

import asyncpg

from plexus.gateway.bus import Bus, Reassembler, encode
from plexus.gateway.storage import redact_url
from plexus.gateway.store import now_ms

log = logging.getLogger("plexus.gateway")

CHANNEL = "plexus"
BACKOFF_S = (0.2, 0.5, 1, 2, 5)


class PgBus(Bus):
    def __init__(self, url, pool):
        self.url = url
        self.pool = pool          # the store's pool, for sending
        self._conn = None
        self._task = None
        self._lost = None
        self._re = Reassembler()

    async def start(self, on_message, on_reconnect=None):
        self._on_message = on_message
        self._on_reconnect = on_reconnect
        await self._listen()
        self._task = asyncio.ensure_future(self._watch())

    async def _listen(self):
        self._lost = asyncio.Event()
        self._conn = await asyncpg.connect(self.url, timeout=10)
        self._conn.add_termination_listener(lambda c: self._lost.set())
        await self._conn.add_listener(CHANNEL, self._notified)

    def _notified(self, conn, pid, channel, payload):
        try:
            msg = self._re.feed(payload)
        except ValueError:
            return
        if msg is not None:
            try:
                self._on_message(msg)
            except Exception:  # one bad message must not stop the listener
                log.exception("bus message failed")

    async def _watch(self):
        """Reconnect the listening connection with backoff whenever it is lost."""
        while True:
            await self._lost.wait()
            lost_ms = now_ms()
            log.error("bus: lost the LISTEN connection to %s; reconnecting", redact_url(self.url))
            attempt = 0
            while True:
                await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                attempt += 1
                try:
                    await self._listen()
                    break
                except Exception:  # still down
                    continue
            log.info("bus: listening again")
            if self._on_reconnect is not None:
                try:
                    await self._on_reconnect(lost_ms)
                except Exception as e:  # the heartbeat restates presence later; keep listening
                    log.warning("bus: catching up after the outage failed: %s", e)

    async def send(self, msg):
        async with self.pool.acquire(timeout=5) as c:
            await notify(c, encode(msg))

    async def close(self):
        if self._task is not None:
            self._task.cancel()
        if self._conn is not None and not self._conn.is_closed():
            try:
                await asyncio.wait_for(self._conn.close(), 3)
            except (asyncio.TimeoutError, OSError, asyncpg.InterfaceError):
                self._conn.terminate()


async def notify(conn, payloads, held_by_other=None, me=None):
    """NOTIFY inside the caller's transaction: delivered only if it commits.
    With `held_by_other` (a source id), only when another replica's presence
    row for that source is committed (read now, not from a replica's memory)."""
    if not payloads:
        return
    if held_by_other is None:
        await conn.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS t(p)", CHANNEL, payloads)
    else:
        await conn.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS t(p) WHERE EXISTS (SELECT 1 FROM "
                           "presence WHERE source_id=$3 AND replica_id<>$4)", CHANNEL, payloads, held_by_other, me)
