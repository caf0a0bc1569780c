"""px.send_batch on a board: many readings at once, all checked before any
is queued (plexus_board.client.LATER loads this on first use)."""


def send_batch(px):
    return lambda points, timestamp=None, tags=None: queue(px, points, timestamp, tags)


def queue(px, points, timestamp=None, tags=None):
    """Queue [(metric, value)] or [(metric, value, timestamp)] readings; all
    are checked first, so one bad reading raises and none is queued."""
    from plexus_core import points as pm
    now = px._clock.now_ms
    shared = pm.point_timestamp(timestamp, now)
    enc = []
    for i, item in enumerate(points):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError("send_batch item %d must be (metric, value) or "
                             "(metric, value, timestamp), got %r" % (i, item))
        ts = item[2] if len(item) == 3 and item[2] is not None else shared
        enc.append(pm.encode_point(pm.make_point(item[0], item[1], ts, tags, None, now)))
    for e in enc:
        px._add(e)
    return True
