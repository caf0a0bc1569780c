"""Test runs (docs/protocol.md §9): named windows on a source, on the app API.

Run boundaries are stamped with the same server-corrected clock as the
readings they bound (on the local clock a run could miss its own readings),
and start_run() waits briefly for the first clock
sync so the very first run is on that clock too. These are explicit, blocking
calls to the app API (`endpoint`), unlike send().
"""

import logging
from contextlib import contextmanager
from datetime import datetime, timezone

from plexus_core.errors import AuthenticationError, PlexusError
from plexus_core.points import normalize_timestamp
from plexus import http_transport as http

log = logging.getLogger("plexus")

OWN_SOURCE = object()  # default: the client's own source_id


def iso_from_ms(ms):
    """Epoch ms -> ISO-8601 UTC with milliseconds and Z, as /api/runs expects."""
    return (datetime.fromtimestamp(ms / 1000, timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"))


class Runs:
    def __init__(self, settings, timeout, now_ms, wait_for_clock):
        self.settings = settings
        self.timeout = timeout
        self.now_ms = now_ms
        self.wait_for_clock = wait_for_clock

    def _when(self, value):
        if value is None:
            self.wait_for_clock()
            return iso_from_ms(self.now_ms())
        if isinstance(value, str):
            return value
        return iso_from_ms(normalize_timestamp(value, self.now_ms))

    def _call(self, method, path, body):
        url = self.settings.endpoint + path
        try:
            status, data, text = http.api_json(method, url, self.settings.api_key, body,
                                               self.timeout)
        except http.HttpUnavailable as e:
            raise PlexusError("%s %s failed: %s" % (method, path, e)) from None
        if status in (401, 403):
            raise AuthenticationError(
                "%s %s rejected the API key (%d): it must belong to the same organisation "
                "as the source and be allowed to write." % (method, path, status))
        if status >= 400:
            raise PlexusError("%s %s failed (%d): %s" % (method, path, status, text[:400]))
        if data is None:
            raise PlexusError("%s %s returned non-JSON: %s" % (method, path, text[:200]))
        return data

    def start(self, name, source_id=OWN_SOURCE, tags=None, metadata=None,
              pass_criteria=None, started_at=None, store_frames=None):
        """Open a run; returns the run dict (with its "id")."""
        if not isinstance(name, str) or not name:
            raise ValueError("run name must be a non-empty string, e.g. 'hotfire-03'")
        own = source_id is OWN_SOURCE or source_id == self.settings.source_id
        body = {"name": name, "started_at": self._when(started_at),
                "source_id": self.settings.source_id if source_id is OWN_SOURCE else source_id}
        if tags:
            body["tags"] = tags
        if metadata:
            body["metadata"] = metadata
        if pass_criteria:
            body["pass_criteria"] = pass_criteria
        try:
            return self._run_of(self._call("POST", "/api/runs", body))
        except AuthenticationError:
            raise
        except PlexusError as e:
            # A bench opens its run before its first reading created the source.
            if not (own and "NOT_FOUND" in str(e)):
                raise
            self._register_source()
            return self._run_of(self._call("POST", "/api/runs", body))

    def _register_source(self):
        try:
            self._call("POST", "/api/sources", {
                "source_type": "device", "slug": self.settings.source_id,
                "device_type": "script", "metadata": {"created_by": "plexus-sdk start_run"}})
        except AuthenticationError:
            raise
        except PlexusError as e:
            if "409" not in str(e) and "already exists" not in str(e).lower():
                raise

    def end(self, run, status="completed", ended_at=None):
        """Close a run (the dict from start() or its id); returns the updated run."""
        run_id = run if isinstance(run, str) else (run or {}).get("id")
        if not run_id:
            raise PlexusError("end_run needs a run id (pass the dict from start_run)")
        if status not in ("completed", "aborted"):
            raise ValueError("status must be 'completed' or 'aborted', got %r" % (status,))
        return self._run_of(self._call("PATCH", "/api/runs/%s" % run_id,
                                       {"status": status, "ended_at": self._when(ended_at)}))

    @staticmethod
    def _run_of(data):
        run = data.get("run") if isinstance(data, dict) else None
        if not isinstance(run, dict):
            raise PlexusError("the runs API answered without a run: %r" % (data,))
        return run

    @contextmanager
    def window(self, name, tags=None, store_frames=None, **kwargs):
        opened = self.start(name, tags=tags, **kwargs)
        try:
            yield opened
        except BaseException:
            try:
                self.end(opened, status="aborted")
            except Exception as e:  # never hide the caller's exception
                log.warning("could not close run %s as aborted: %s", opened.get("id"), e)
            raise
        self.end(opened, status="completed")
