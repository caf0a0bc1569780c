"""The bus replicas of one gateway talk over: presence, commands for a device
held by another replica, live data for viewers on every replica.

A Bus carries small JSON messages to every other member; it does not store
them (what must survive is in the database, and a member that missed
messages reloads it). Messages are cut into payloads of at most
MAX_PAYLOAD bytes, so any transport with a payload limit carries them
(PostgreSQL NOTIFY takes under 8000 bytes).

LocalBus joins members inside one process (the single-process default, and
several apps in one process); pg/bus.py's PgBus joins processes and machines
through LISTEN/NOTIFY. A Redis or NATS bus would implement the same three
methods (docs/scale.md).
"""

import abc
import itertools
import json
import uuid

MAX_PAYLOAD = 7900
_HEAD = 64  # room for a chunk's header


def encode(msg):
    """The payload strings for one message: one when it fits, else chunks."""
    text = json.dumps(msg, separators=(",", ":"), ensure_ascii=True)  # ASCII: bytes == characters
    if len(text) + 2 <= MAX_PAYLOAD:
        return ["m|" + text]
    step = MAX_PAYLOAD - _HEAD
    parts = [text[i:i + step] for i in range(0, len(text), step)]
    mid = uuid.uuid4().hex[:12]
    return ["c|%s|%d|%d|%s" % (mid, i, len(parts), p) for i, p in enumerate(parts)]


class Reassembler:
    """Turns payloads back into messages; incomplete chunked messages are
    dropped after `keep` newer ones started (a lost chunk costs one message)."""

    def __init__(self, keep=64):
        self.keep = keep
        self._parts = {}
        self._order = itertools.count()

    def feed(self, payload):
        """The message a payload completes, or None."""
        if payload.startswith("m|"):
            return json.loads(payload[2:])
        if not payload.startswith("c|"):
            return None
        _, mid, i, n, data = payload.split("|", 4)
        entry = self._parts.get(mid)
        if entry is None:
            entry = self._parts[mid] = [next(self._order), int(n), {}]
            if len(self._parts) > self.keep:
                oldest = min(self._parts, key=lambda k: self._parts[k][0])
                del self._parts[oldest]
        entry[2][int(i)] = data
        if len(entry[2]) < entry[1]:
            return None
        del self._parts[mid]
        return json.loads("".join(entry[2][k] for k in range(entry[1])))


class Bus(abc.ABC):
    @abc.abstractmethod
    async def start(self, on_message, on_reconnect=None):
        """Deliver every message from other members to on_message(msg); call
        on_reconnect(lost_ms) after an outage that began at lost_ms (wall
        clock), in which messages may have been lost."""

    @abc.abstractmethod
    async def send(self, msg):
        """Send a message to every other member (not tied to a transaction)."""

    @abc.abstractmethod
    async def close(self):
        """Stop listening."""


class LocalBus(Bus):
    """Members in one process; `group` names who hears whom."""

    _groups = {}

    def __init__(self, group="default"):
        self.group = group
        self._handler = None

    async def start(self, on_message, on_reconnect=None):
        self._handler = on_message
        self._groups.setdefault(self.group, set()).add(self)

    async def send(self, msg):
        for payload in encode(msg):      # the same cut as on the wire, so limits are the same
            for member in list(self._groups.get(self.group, ())):
                if member is not self and member._handler is not None:
                    member._deliver(payload)

    def _deliver(self, payload):
        if not hasattr(self, "_re"):
            self._re = Reassembler()
        msg = self._re.feed(payload)
        if msg is not None:
            self._handler(msg)

    async def close(self):
        self._groups.get(self.group, set()).discard(self)
        self._handler = None
