"""px.send_batch on a board: many readings at once, all checked before any
is queued (plexus_board.client.LATER loads this on first use)."""


def send_batch(px):
    return lambda points, timestamp=None, tags=None: queue(px, points, timestamp, tags)


def queue(px, points, timestamp=None, tags=None):
    from plexus_core.points import encode_readings
    for e in encode_readings(points, timestamp, tags, px._clock.now_ms):
        px._add(e)
    return True
