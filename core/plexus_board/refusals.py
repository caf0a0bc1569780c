"""What a board link does when the gateway refuses or drops readings: the
counters, and the error poll() raises once (Plexus.report). Both transports
use it; it loads at the first refusal, so a board that never sees one keeps
this code off its heap."""

from plexus_core import delivery as D
from plexus_core.errors import AuthenticationError, PlexusError, RateLimitedError


def act(px, log, a):
    """A Delivery action about a refusal: DROP, or a REPORT (not LINK_UP/DOWN).
    px: the client (its public last_error, report() and counters); log: its
    FlashLog."""
    if a[0] == D.DROP:
        seq = a[1]
        n = log.npts[log.seqs.index(seq)] if seq in log.seqs else 0
        log.delete(seq)
        batch_refused(px, n, a[2])
        return
    kind, detail = a[1], a[2]
    if kind == D.KEY_REFUSED:
        px.last_error = "the gateway refused the API key: " + str(detail)
        key_refused(px, ": " + str(detail))
    elif kind == D.HELD:
        frame_held(px, detail)
    elif kind == D.LIMITED:
        frame_dropped(px, detail)
    elif kind == D.ANSWERED:
        answered(px, detail)
    elif kind == D.NO_PLAN:
        px.last_error = "streaming is not in the plan: readings go over HTTP"
    else:
        px.last_error = "gateway error " + str(detail)


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
    """A frame or request was not stored for a limit: kept, sent again later."""
    px.rate_limited_frames += 1
    px.report(RateLimitedError("the gateway did not store a segment (%s); it is kept "
                               "and sent again" % code))


def answered(px, why):
    """An /ingest answer the client cannot act on: readings stay on flash."""
    px.report(PlexusError("the gateway answered %s; readings stay on flash" % why))
