# A MicroPython board sender for tools/chaos.py (run by the real interpreter).
#
# micropython board_sender.py CORE KEY SOURCE GATEWAY_URL TRANSPORT WORKDIR RATE
#
# Same ledger rules as cpython_sender.py: "ok GEN N" after persist() means
# readings 0..N-1 of that generation are on flash. The controller "power
# cuts" the board with SIGKILL; the next boot recovers the flash log.
import os
import sys
import time

sys.path.insert(0, sys.argv[1])
from plexus_board.client import Plexus  # noqa: E402
from plexus_core.errors import PlexusError  # noqa: E402

KEY, SID, URL, TRANSPORT, WORK = sys.argv[2:7]
RATE = float(sys.argv[7])
LEDGER = WORK + "/" + SID + ".ledger"
STOP = WORK + "/stop"


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def record(line):
    with open(LEDGER, "a") as f:
        f.write(line + "\n")


def main():
    gen = 1
    if exists(LEDGER):
        with open(LEDGER) as f:
            for line in f:
                if line.startswith("gen "):
                    gen += 1
    record("gen %d" % gen)
    px = Plexus(KEY, SID, URL, transport=TRANSPORT, store=WORK + "/" + SID + ".flash", timeout=5,
                linger_ms=200, max_segments=4096)
    base = gen * 10000000
    i = 0
    per_tick = max(1, int(RATE / 10))
    while not exists(STOP):
        for _ in range(per_tick):
            px.send("seq", base + i)
            i += 1
        px.persist()
        record("ok %d %d" % (gen, i))
        until = time.ticks_add(time.ticks_ms(), 100)
        while time.ticks_diff(until, time.ticks_ms()) > 0:
            try:
                px.poll()
            except PlexusError as e:
                print("poll:", e)
            time.sleep_ms(5)
    px.persist()
    record("ok %d %d" % (gen, i))
    ok = px.flush(300)
    print("done", SID, "delivered" if ok else "NOT DELIVERED", px.buffer_size())
    px.close()


main()
