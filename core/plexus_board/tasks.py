"""px.poll_task on a board, for asyncio programs:
asyncio.create_task(px.poll_task()) (plexus_board.client.LATER loads this
on first use)."""

from plexus_core.errors import PlexusError


def poll_task(px):
    return lambda period_ms=100: polling(px, period_ms)


async def polling(px, period_ms):
    import asyncio
    while not px._closed:
        try:
            px.poll()
        except PlexusError as e:
            px.last_error = str(e)
        if hasattr(asyncio, "sleep_ms"):
            await asyncio.sleep_ms(period_ms)
        else:
            await asyncio.sleep(period_ms / 1000)
