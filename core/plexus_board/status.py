"""What a board client can tell about itself beyond its counters: flash
log losses, the connection, the clock offset (plexus_board.client.LATER
loads this on first read)."""


def evicted_points(px):
    """Oldest readings dropped because the flash log was full."""
    return px._log.evicted


def discarded_segments(px):
    """Torn or corrupt segments found on flash."""
    return px._log.discarded


def connected(px):
    return px._link is not None and px._link.connected()


def clock_offset_ms(px):
    """Gateway time minus board time."""
    return px._clock.offset_ms
