"""The delivery policy after a setback (part of plexus_core.delivery's
state machine): a connection ended, a request got no answer, the gateway
refused a key, a plan or a batch. delivery.setbacks() loads this for the
event and drops it again, so a board keeps it off its heap in between. The
action kinds come from the Delivery `d` each function is given.
"""

from plexus_core.backoff import MAX_ATTEMPT, goodbye_delay_ms, reconnect_delay_ms

try:
    from micropython import const
except ImportError:  # CPython
    const = int

_LIMIT_HOLD_MS = const(1000)       # after a frame was refused for a rate limit
# A refused key is fixed by a person, not by time: retry slowly, 1 min
# doubling to 30 min (+0-25 % jitter), on both runtimes. A fleet whose key
# was revoked would otherwise load the gateway's key lookup every minute
# forever; a restart (or a flush) tries again at once.
_AUTH_RETRY_MS = const(60000)
_AUTH_RETRY_MAX_MS = const(1800000)
_NO_PLAN_RETRY_MS = const(600000)  # streaming not in the plan: HTTP only, ask again later


def lost(d, now, delay_ms, down):
    keys = d.session.lost()
    acts = [(d.RESEND, keys)] if keys else []
    if down:
        acts += d._link(False)
    if delay_ms is None:
        delay_ms = reconnect_delay_ms(d.attempt, d.rand() * 2 - 1)
        if d.attempt < MAX_ATTEMPT:
            d.attempt += 1
    d.ws_at = now + delay_ms
    if not d.auth_failures:
        d.http_at = now  # over HTTP at once meanwhile
    acts.append((d.RECONNECT, delay_ms))
    return acts


def closed(d, code, now):
    if code == 1001:  # goodbye: it is redeploying, back in a moment
        return lost(d, now, goodbye_delay_ms(d.rand()), True)
    if code == 1008 and d.session.state == 1:  # (AUTHENTICATING) a refused key
        return refused(d, None, None, "connection closed during auth (1008)", now)
    return lost(d, now, None, True)


def post_failed(d, key, now):
    d.last_sent = now
    f = d.http_retry_ms
    a = d.http_attempt
    d.http_at = now + (f(a) if f is not None else reconnect_delay_ms(a, d.rand() * 2 - 1))
    d.http_attempt = a + 1
    return [(d.RESEND, [key])] + d._link(False)


def refused(d, key, code, why, now):
    """The gateway refused the batch `key` (code: its error code), or the
    key or plan (key None, while authenticating)."""
    if key is not None:  # a batch, refused on the WebSocket
        from plexus_core.session import LIMIT_CODES
        if code in LIMIT_CODES:  # intact, not stored for a limit: later, again
            d.hold_until = now + _LIMIT_HOLD_MS
            return [(d.RESEND, [key]), (d.REPORT, d.HELD, code)]
        return [invalid(d, key, "%s: %s" % (code, why))]
    if code == "streaming_requires_plan":  # the key is fine: no streaming on this plan
        return [(d.REPORT, d.NO_PLAN, why)] + lost(d, now, _NO_PLAN_RETRY_MS, False)
    return [(d.REPORT, d.KEY_REFUSED, why)] + lost(d, now, key_refused(d, now), True)


def invalid(d, key, why):
    # The one difference between runtimes: a store that can split a batch
    # isolates the bad reading; flash segments cannot be split yet.
    return (d.SPLIT if d.can_split else d.DROP, key, why)


def key_refused(d, now):
    """Count a refused key; returns the wait before the next try (both paths)."""
    n = d.auth_failures if d.auth_failures < 10 else 10
    d.auth_failures += 1
    t = _AUTH_RETRY_MS << n
    if t > _AUTH_RETRY_MAX_MS:
        t = _AUTH_RETRY_MAX_MS
    t += int(t * d.rand()) // 4
    d.http_at = now + t
    return t
