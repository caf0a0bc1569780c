"""The gateway's store interface: every coroutine the gateway calls on its
store, whatever the database underneath (SQLite in the sqlite package,
PostgreSQL in the pg package; what both share is in store.py).

Rules every store keeps:
- `store_batch` resolves only after the points are committed; an
  acknowledgement is never sent for anything less.
- A failure of the database itself (disk, connection, server gone) raises an
  OSError (StoreUnavailable for a server that is gone), so callers answer
  "try again later" instead of refusing the data.
- Methods marked fire-and-forget return nothing and log their failures.
"""

import abc


class StoreUnavailable(OSError):
    """The database cannot be reached or cannot write right now; retry later."""


class Store(abc.ABC):
    # -- life cycle -------------------------------------------------------------
    async def open(self):
        """Connect and bring the schema up to date (before serving); a store
        that opens in its constructor has nothing to do."""
        return None

    def bus(self):
        """The bus (bus.py) of replicas sharing this store, or None: a store
        of one process has no one to tell."""
        return None

    def attach_cluster(self, cluster):
        """Called once with the replica's cluster coordinator (stores that can
        announce what they committed use it)."""
        return None

    @abc.abstractmethod
    def close(self):
        """Release the database (synchronous stores)."""

    async def aclose(self):
        self.close()

    # -- device side --------------------------------------------------------------
    @abc.abstractmethod
    async def store_batch(self, source_id, batch_id, points):
        """Store points durably in one transaction; the stored count, or None
        when `batch_id` was already stored for this source (a resend)."""

    @abc.abstractmethod
    async def describe_source(self, source_id, platform, agent_version, commands, cameras):
        """Record what a device said about itself when it connected."""

    @abc.abstractmethod
    def touch_source(self, source_id):
        """Fire and forget: the source was seen now."""

    @abc.abstractmethod
    def add_camera(self, source_id, camera_id):
        """Fire and forget: the source has this camera."""

    # -- keys (stored as hashes only) ---------------------------------------------
    @abc.abstractmethod
    async def key(self, presented):
        """The keys.Key for a presented key string, or None."""

    @abc.abstractmethod
    async def create_key(self, name=None, scopes="write,read,commands", source_id=None):
        """A new key (returned once, stored as its hash)."""

    @abc.abstractmethod
    async def list_keys(self):
        """Every key's id, name, hint, scopes, source_id, created_ms, revoked_ms."""

    @abc.abstractmethod
    async def revoke_key(self, ident):
        """Revoke by id or name; how many keys were revoked."""

    # -- Data API -------------------------------------------------------------------
    @abc.abstractmethod
    async def sources(self):
        """Every source: source_id, last_seen_ms, commands, cameras."""

    @abc.abstractmethod
    async def source(self, source_id):
        """One source as in sources(), or None."""

    @abc.abstractmethod
    async def metric_names(self, source_id):
        """The source's metric names, sorted."""

    @abc.abstractmethod
    async def latest(self, source_id):
        """{metric: newest value}."""

    @abc.abstractmethod
    async def raw(self, source_id, metrics, start, end):
        """({metric: {"timestamp_ms": [...], "value": [...]}}, truncated)."""

    @abc.abstractmethod
    async def aggregated(self, source_id, metrics, start, end, bucket_ms):
        """({metric: {"timestamp_ms", "min", "max", "avg", "count"}}, truncated)."""

    @abc.abstractmethod
    async def events(self, source_id, start, end, name=None, limit=1000, newest=False):
        """Event points, oldest first (the newest `limit` when `newest`)."""

    @abc.abstractmethod
    async def fleet_metric(self, metric, start, end, bucket_ms, max_buckets):
        """([per source: source_id and timestamp_ms, avg, min, max, count arrays], truncated)."""

    @abc.abstractmethod
    async def delete_source(self, source_id):
        """Forget everything stored for one source; how many points went."""

    # -- commands -------------------------------------------------------------------
    @abc.abstractmethod
    async def put_run(self, run):
        """Insert or replace a command run."""

    @abc.abstractmethod
    async def get_run(self, run_id):
        """A command run, or None."""

    @abc.abstractmethod
    async def open_runs(self, source_id):
        """The source's runs not yet succeeded, failed or expired, oldest first."""

    @abc.abstractmethod
    async def new_command(self, cid, source_id, command, params):
        """Record a legacy command sent to a device."""

    @abc.abstractmethod
    async def command_event(self, cid, source_id, frame):
        """Append a device's frame to a legacy command; False if unknown."""

    @abc.abstractmethod
    async def get_command(self, source_id, cid):
        """A legacy command with its events, or None."""

    # -- test runs --------------------------------------------------------------------
    @abc.abstractmethod
    async def put_test_run(self, run):
        """Insert or replace a test run."""

    @abc.abstractmethod
    async def get_test_run(self, run_id):
        """A test run, or None."""

    @abc.abstractmethod
    async def metric_values(self, source_id, metric, start, end):
        """Every stored value of a metric in a window (one source, or all when None)."""


def open_store(location):
    """The store for a `--store`/`--db` value: a postgresql:// URL or a SQLite file."""
    if is_postgres_url(location):
        from plexus.gateway.pg.store import PostgresStore
        return PostgresStore(location)
    from plexus.gateway.sqlite.store import SqliteStore
    return SqliteStore(location)


def is_postgres_url(location):
    return isinstance(location, str) and location.split("://", 1)[0] in ("postgresql", "postgres")


def redact_url(url):
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit
    try:
        u = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if u.password is None:
        return url
    host = u.hostname or ""
    if u.port:
        host += ":%d" % u.port
    netloc = "%s:***@%s" % (u.username or "", host)
    return urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))
