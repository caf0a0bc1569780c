"""A board program for the gateway tests, run by the real MicroPython.

micropython device.py CORE SCENARIO URL KEY SOURCE TRANSPORT STORE N

Prints `RESULT {json}` at the end; the test reads the gateway's database.
Scenarios:
  basic    N readings (value i, timestamp T0+i), events with tags, a batch; flush
  clock    the board's clock runs 1 h slow; after the first connection its
           readings carry gateway time
  steady   N readings, one poll() per reading, while the test restarts or
           kills the gateway (prints RUNNING once a quarter is sent)
  offline  N readings to flash with no gateway, then the power goes (no close)
  resume   the next boot: deliver what the last one left on flash
  badkey   a refused key: poll() raises AuthenticationError, readings stay
  command  declares `blink`, prints READY once connected, runs what arrives
  asyncio  readings sent from a coroutine, delivered by px.poll_task()
"""

import json
import sys
import time

sys.path.insert(0, sys.argv[1])

from plexus_board.client import Plexus
from plexus_core.clock import wall_ms
from plexus_core.errors import AuthenticationError

SCENARIO, URL, KEY, SOURCE, TRANSPORT, STORE = sys.argv[2:8]
N = int(sys.argv[8])
T0 = 1760000000000


def result(px, **kw):
    d = {"buffer": px.buffer_size(), "offset": px.clock_offset_ms, "rejected": px.rejected_points,
         "evicted": px.evicted_points, "discarded": px.discarded_segments}
    d.update(kw)
    print("RESULT " + json.dumps(d))


def client():
    return Plexus(KEY, SOURCE, URL, transport=TRANSPORT, store=STORE, timeout=10)


def basic():
    px = client()
    for i in range(N):
        px.send("seq", i, timestamp=T0 + i)
    for i in range(10):
        px.event("state", {"step": i}, timestamp=T0 + N + i, tags={"line": "b"})
    px.send_batch([("batch", i) for i in range(20)], timestamp=T0 + 2 * N)
    ok = px.flush(60)
    result(px, flushed=ok)
    px.close()


def clock():
    skew = 3600000
    px = client()
    px._clock._wall = lambda: wall_ms() - skew  # a board whose clock is an hour slow
    px.send("first", 1, timestamp=T0)
    ok = px.flush(60)
    for i in range(5):
        px.send("synced", i)  # stamped now, on the gateway-corrected clock
    ok = px.flush(60) and ok
    result(px, flushed=ok, local=wall_ms() - skew)
    px.close()


def steady():
    px = client()
    errors = 0
    for i in range(N):
        px.send("seq", i, timestamp=T0 + i)
        px.poll()
        if i == N // 4:
            print("RUNNING")
        time.sleep_ms(3)
    ok = px.flush(120)
    result(px, flushed=ok, errors=errors)
    px.close()


def offline():
    px = client()
    for i in range(N):
        px.send("seq", i, timestamp=T0 + i)
    px.persist()
    for _ in range(3):
        px.poll()  # the gateway is unreachable: nothing is lost
    result(px, error=px.last_error is not None)
    sys.exit(0)  # power cut: no close()


def resume():
    px = client()
    before = px.buffer_size()
    ok = px.flush(60)
    result(px, flushed=ok, before=before)
    px.close()


def badkey():
    px = client()
    for i in range(N):
        px.send("seq", i, timestamp=T0 + i)
    err = None
    start = time.ticks_ms()
    while err is None and time.ticks_diff(time.ticks_ms(), start) < 30000:
        try:
            px.poll()
        except AuthenticationError as e:
            err = str(e)
        time.sleep_ms(10)
    result(px, error=err, keyless=err is not None and KEY not in err)


def command():
    px = client()
    calls = []

    @px.command(params={"pin": {"type": "integer", "minimum": 0, "maximum": 39}})
    def blink(run, pin):
        calls.append(pin)
        run.progress(50, "half way")
        return {"pin": pin, "on": True}

    start = time.ticks_ms()
    ready = False
    while len(calls) < N and time.ticks_diff(time.ticks_ms(), start) < 90000:
        px.poll()
        if px.connected and not ready:
            ready = True
            print("READY")
        time.sleep_ms(10)
    for _ in range(50):  # let the final statuses go out and be acknowledged
        px.poll()
        time.sleep_ms(10)
    result(px, calls=calls)
    px.close()


def with_asyncio():
    import asyncio

    px = client()

    async def sensor():
        for i in range(N):
            px.send("seq", i, timestamp=T0 + i)
            await asyncio.sleep_ms(2)

    async def main():
        poller = asyncio.create_task(px.poll_task(20))
        await sensor()
        start = time.ticks_ms()
        while px.buffer_size() and time.ticks_diff(time.ticks_ms(), start) < 60000:
            await asyncio.sleep_ms(50)
        left = px.buffer_size()
        px.close()  # poll_task ends with the client
        await asyncio.wait_for(poller, 5)
        return left

    left = asyncio.run(main())
    result(px, left=left)


{"asyncio": with_asyncio, "command": command, "basic": basic, "clock": clock, "steady": steady, "offline": offline,
 "resume": resume, "badkey": badkey}[SCENARIO]()
