"""What an /ingest answer means for the data (PROTOCOL.md §2.2-2.3).

One decision table for every runtime, so boards and CPython react the same.
"""

import json

OK = "ok"              # answered: stored as far as `count` says (stored_count)
RETRY = "retry"        # transient (429, 5xx, timeouts): keep and retry later
AUTH = "auth"          # 401/403: keep, stop sending, tell the user
REJECTED = "rejected"  # 400/413/422: the batch itself is bad: isolate the culprit
OTHER = "other"        # other 4xx: keep, report, retry slowly


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


def dropped_count(body):
    """`dropped` from a 200 body (points accepted but discarded by a limit)."""
    try:
        d = json.loads(body)
    except (ValueError, TypeError):
        return 0
    if isinstance(d, dict):
        n = d.get("dropped")
        if type(n) is int and n > 0:
            return n
    return 0


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
