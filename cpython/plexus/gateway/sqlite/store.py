"""The store interface (storage.Store) on SQLite.

Every method is a coroutine (or returns a future) so the server never waits
on disk on its event loop: writes go to the group-commit writer process
(gateway/writer_process.py), reads to reader threads (gateway/db.py). The
SQL is in the topic modules beside this one.
"""

import asyncio
import logging

from plexus.gateway import db, keys
from plexus.gateway.writer_process import WriterProcess
from plexus.gateway.sqlite import points, queries, runs, sources
from plexus.gateway.storage import Store
from plexus.gateway.store import LATEST_WINDOW_MS, MAX_ROWS, now_ms


def _log_failure(fut):
    if not fut.cancelled() and fut.exception() is not None:
        logging.getLogger("plexus.gateway").error("background write failed: %s", fut.exception())


class SqliteStore(Store):
    """Storage for one gateway: points, batch ids, sources, keys, commands."""

    def __init__(self, path):
        self.path = path
        self._writer = WriterProcess(path)
        self._readers = db.Readers(path)

    def close(self):
        self._writer.close()
        self._readers.close()

    def _write(self, fn, *args):
        return self._writer.submit_async(asyncio.get_running_loop(), fn, *args)

    def _read(self, fn, *args):
        return asyncio.wrap_future(self._readers.submit(fn, *args))

    # device side
    def store_batch(self, source_id, batch_id, pts):
        return self._write(points.insert_batch, source_id, batch_id, pts, now_ms())

    def describe_source(self, source_id, platform, agent_version, commands, cameras):
        return self._write(sources.describe_source, source_id, now_ms(), platform, agent_version, commands,
                           cameras)

    def touch_source(self, source_id):
        self._write(sources.seen, source_id, now_ms()).add_done_callback(_log_failure)

    def add_camera(self, source_id, camera_id):
        self._write(sources.add_camera, source_id, camera_id).add_done_callback(_log_failure)

    # keys
    def key(self, presented):
        return self._read(keys.find, presented)

    def create_key(self, name=None, scopes=keys.DEFAULT_SCOPES, source_id=None):
        return self._write(keys.create, name, scopes, source_id)

    def list_keys(self):
        return self._read(keys.listing)

    def revoke_key(self, ident):
        return self._write(keys.revoke, ident)

    # Data API
    def sources(self):
        return self._read(sources.sources)

    def source(self, source_id):
        return self._read(sources.source, source_id)

    def metric_names(self, source_id):
        return self._read(sources.metric_names, source_id)

    def latest(self, source_id):
        return self._read(queries.latest, source_id, now_ms() - LATEST_WINDOW_MS)

    def raw(self, source_id, metrics, start, end):
        return self._read(queries.raw, source_id, metrics, start, end)

    def aggregated(self, source_id, metrics, start, end, bucket_ms):
        return self._read(queries.aggregated, source_id, metrics, start, end, bucket_ms)

    def events(self, source_id, start, end, name=None, limit=1000, newest=False):
        return self._read(queries.events, source_id, start, end, name, limit, newest)

    def fleet_metric(self, metric, start, end, bucket_ms, max_buckets=MAX_ROWS):
        return self._read(queries.fleet_metric, metric, start, end, bucket_ms, max_buckets)

    def metric_values(self, source_id, metric, start, end):
        return self._read(queries.metric_values, source_id, metric, start, end)

    def delete_source(self, source_id):
        return self._write(points.delete_source, source_id)

    def delete_older_than(self, cutoff_ms):
        return self._write(points.delete_older_than, cutoff_ms)

    # commands
    def put_run(self, run):
        return self._write(runs.put_run, run)

    def get_run(self, run_id):
        return self._read(runs.get_run, run_id)

    def open_runs(self, source_id):
        return self._read(runs.open_runs, source_id)

    def new_command(self, cid, source_id, command, params):
        return self._write(runs.new_command, cid, source_id, command, params, now_ms())

    def command_event(self, cid, source_id, frame):
        return self._write(runs.command_event, cid, source_id, frame)

    def get_command(self, source_id, cid):
        return self._read(runs.get_command, source_id, cid)

    # test runs
    def put_test_run(self, run):
        return self._write(runs.put_test_run, run)

    def get_test_run(self, run_id):
        return self._read(runs.get_test_run, run_id)
