"""Problems found in the background, reported on the caller's next call.

The sender and the store run on their own threads; what they learn (the key
was rejected, the gateway dropped or refused readings, a reading was
isolated as invalid) is counted here and raised once, as the matching
exception, from the next send()/flush_buffer() on the caller's thread. The
reading passed to that call is not queued when it raises.
"""

import threading

from plexus_core.errors import AuthenticationError, PlexusError, RateLimitedError
from plexus.config import say


class Alerts:
    def __init__(self, secret=None):
        self._lock = threading.Lock()
        self._secret = secret
        self.pending = []            # exceptions waiting for the caller; read without the lock
        self.dropped_points = 0      # gateway accepted, then discarded (HTTP `dropped`)
        self.rate_limited_frames = 0  # frames refused for a rate or plan limit
        self.rejected_points = 0     # readings the gateway refused as invalid: dropped
        self.evicted_points = 0      # oldest readings dropped because the buffer was full
        self._auth_reported = False
        self._said = set()

    def redact(self, text):
        """Never let the API key reach an exception, a log or stderr."""
        text = str(text)
        if self._secret and self._secret in text:
            text = text.replace(self._secret, "plx_…")
        return text

    def _post(self, exc):
        with self._lock:
            # one pending exception per kind: the caller is told, not flooded
            if not any(type(e) is type(exc) for e in self.pending):
                self.pending.append(exc)

    def raise_pending(self):
        with self._lock:
            if not self.pending:
                return
            exc = self.pending.pop(0)
        raise exc

    def say_once(self, key, message):
        if key not in self._said:
            self._said.add(key)
            say(self.redact(message))

    # -- what the background threads report ------------------------------------

    def auth_failed(self, reason):
        reason = self.redact(reason or "rejected")
        with self._lock:
            first = not self._auth_reported
            self._auth_reported = True
        if first:
            msg = ("The gateway rejected the API key (%s). Check PLEXUS_API_KEY or "
                   "Plexus(api_key=...): the key must exist, have the write scope and, "
                   "if it is limited to one source, match source_id. Readings are kept "
                   "on disk; reconnects back off meanwhile." % reason)
            say(msg)
            self._post(AuthenticationError(msg))

    def authenticated(self):
        with self._lock:
            self._auth_reported = False
            self.pending = [e for e in self.pending if not isinstance(e, AuthenticationError)]

    def gateway_dropped(self, n):
        with self._lock:
            self.dropped_points += n
        msg = ("The gateway accepted %d reading%s but dropped them for a rate or device "
               "limit; they are lost. Send less often, or check the plan's device limit."
               % (n, "" if n == 1 else "s"))
        self.say_once("dropped", msg)
        self._post(RateLimitedError(msg))

    def rate_limited(self, code, resent):
        with self._lock:
            self.rate_limited_frames += 1
        if resent:
            msg = ("The gateway refused a batch (%s); it stays queued and is sent again "
                   "shortly. Sustained, this delays delivery: send less often or "
                   "raise the limit." % code)
        else:
            msg = ("The gateway dropped a telemetry frame (%s); its readings are lost. "
                   "Send less often, or raise the limit." % code)
        self.say_once("limit", msg)
        self._post(RateLimitedError(msg))

    def rejected(self, point_text, detail):
        with self._lock:
            self.rejected_points += 1
        msg = self.redact("The gateway rejected a reading as invalid (%s) and it was dropped; "
                          "the rest of its batch was delivered. Reading: %s"
                          % (detail or "no detail", point_text[:300]))
        say(msg)
        self._post(PlexusError(msg))

    def evicted(self, n):
        if n <= 0:
            return
        with self._lock:
            self.evicted_points += n
        say("buffer full: dropped the %d oldest reading%s (gateway unreachable for long? "
            "raise max_buffer_size)" % (n, "" if n == 1 else "s"))

    def problem(self, key, message):
        """A failure the caller should hear about once (store errors, odd answers)."""
        message = self.redact(message)
        self.say_once(key, message)
        self._post(PlexusError(message))
