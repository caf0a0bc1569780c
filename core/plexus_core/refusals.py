"""What a board link does when the gateway refuses or drops readings: the
counters, and the error poll() raises once (Plexus.report). Both transports
use it; it loads at the first refusal, so a board that never sees one keeps
this code off its heap."""

from plexus_core.errors import AuthenticationError, PlexusError, RateLimitedError


def key_refused(px, detail):
    """The gateway refused the API key; detail: ": why" or " (why)"."""
    px.report(AuthenticationError("the gateway refused the API key for %s%s; "
                                  "readings stay on flash" % (px.source_id, detail)))


def batch_refused(px, n, why):
    """The gateway refused a batch of n readings as invalid: it is dropped."""
    px.rejected_points += n
    px.report(PlexusError("the gateway refused %d readings (%s); they were dropped" % (n, why)))


def frame_dropped(px, code):
    """A WebSocket frame was not stored because of a rate or plan limit."""
    px.rate_limited_frames += 1
    px.report(RateLimitedError("the gateway dropped a frame: %s" % code))


def frame_held(px, code):
    """A WebSocket frame was refused for a limit: kept, sent again later."""
    px.rate_limited_frames += 1
    px.report(RateLimitedError("the gateway refused a frame (%s); it is kept and "
                               "sent again" % code))


def points_dropped(px, n):
    """An /ingest answer: stored, then n readings dropped for a limit."""
    px.dropped_points += n
    px.report(RateLimitedError("the gateway stored and then dropped %d readings "
                               "for a rate or plan limit" % n))


def answered(px, why):
    """An /ingest answer the client cannot act on: readings stay on flash."""
    px.report(PlexusError("the gateway answered %s; readings stay on flash" % why))
