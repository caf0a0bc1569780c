"""What an /ingest answer means for the data (docs/protocol.md §2.2-2.3).

One decision table for every runtime, so boards and CPython react the same:
answered() is the /ingest answer event of plexus_core.delivery's state
machine, here so that only a client that posts loads it.
"""

import json

from plexus_core import delivery as D

OK = "ok"              # answered: stored as far as `count` says (stored_count)
RETRY = "retry"        # transient (429, 5xx, timeouts): keep and retry later
AUTH = "auth"          # 401/403: keep, stop sending, tell the user
REJECTED = "rejected"  # 400/413/422: the batch itself is bad: isolate the culprit
OTHER = "other"        # other 4xx: keep, report, retry slowly

_MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"


def date_ms(value):
    """The gateway's clock from an answer: epoch ms of an HTTP Date header ("Sun, 06 Nov 1994 08:49:37 GMT"), or
    None. Computed from the calendar: no mktime, whose epoch varies by port."""
    try:
        _, d, mon, y, hms, _ = value.split()
        i = _MONTHS.index(mon)
        h, mi, sec = hms.split(":")
        d, y, m = int(d), int(y), i // 3 + 1
        if i % 3 or not 1 <= d <= 31:
            return None
    except (ValueError, AttributeError):
        return None
    # days since 1970-01-01 (H. Hinnant's days_from_civil)
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return ((days * 24 + int(h)) * 60 + int(mi)) * 60000 + int(sec) * 1000


def classify(status):
    if status < 400:
        return OK
    if status == 401 or status == 403:
        return AUTH
    if status in (400, 413, 422):
        return REJECTED
    if status == 429 or status == 408 or status >= 500:
        return RETRY
    return OTHER


def stored_count(body, sent):
    """How many of `sent` readings a 2xx answer says were stored: `count`
    when the gateway gives it, else `sent` less any `dropped`."""
    try:
        d = json.loads(body)
    except (ValueError, TypeError):
        return sent
    if not isinstance(d, dict):
        return sent
    stored = sent
    n = d.get("count")
    if type(n) is int and 0 <= n < sent:
        stored = n
    n = d.get("dropped")
    if type(n) is int and n > 0 and sent - n < stored:
        stored = sent - n
    return stored


def error_text(body, limit=200):
    """The gateway's {"error": ...} text, shortened, for error messages."""
    try:
        d = json.loads(body)
        if isinstance(d, dict) and isinstance(d.get("error"), str):
            return d["error"][:limit]
    except (ValueError, TypeError):
        pass
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode()
        except Exception:
            return ""
    return str(body)[:limit]


def answered(d, key, n, status, body, date_ms, rtt_ms, now):
    """The actions for the answer to a POST /ingest of stored batch `key` (n
    readings), sent when Delivery d's path() said HTTP: status, body, the
    Date header in epoch ms (or None) and the round trip."""
    d.last_sent = now  # the gateway counted it before answering: pace from here
    clock = d.clock
    if date_ms is not None and clock is not None and not clock.synced:
        # Without a WebSocket time sample, the Date header (whole seconds)
        # is the gateway's clock: used only to fix an error over a second,
        # so its coarseness never moves timestamps back and forth.
        offset = date_ms + 500 + rtt_ms // 2 - clock.local_ms()
        if abs(offset - clock.offset_ms) > 1000 + rtt_ms:
            clock.offset_ms = offset
    kind = classify(status)
    if kind == OK:
        d.http_attempt = 0
        d.auth_failures = 0
        acts = d._link(True)
        if stored_count(body, n) < n:
            # One source per request: a gateway over the source's limit skips
            # the whole request (hosted: silently, with a lower count), so
            # none of it is known stored. Same batch id again.
            acts.append((D.RESEND, [key]))
            acts.append((D.REPORT, D.HELD, "SOURCE_LIMIT"))
        else:
            acts.append((D.DELETE, [key]))
        return acts
    why = "HTTP %d: %s" % (status, error_text(body))
    if kind == REJECTED:
        try:
            return [D.setbacks().invalid(d, key, why)]
        finally:
            D.done()
    if kind == AUTH:
        try:
            D.setbacks().key_refused(d, now)
        finally:
            D.done()
        return [(D.RESEND, [key]), (D.REPORT, D.KEY_REFUSED, why)] + d._link(False)
    acts = d.post_failed(key, now)
    if kind == OTHER:
        acts.append((D.REPORT, D.ANSWERED, why))
    return acts

