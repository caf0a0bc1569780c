"""A CPython sender for tools/chaos.py.

python cpython_sender.py KEY SOURCE GATEWAY_URL WS_URL WORKDIR RATE

Sends `seq` readings (value = generation * 10**7 + i) at RATE per second.
After each persist() it appends "ok GEN N" to WORKDIR/SOURCE.ledger: readings
0..N-1 of that generation are committed and must reach the gateway exactly
once. A restart after SIGKILL is a new generation on the same buffer file.
When WORKDIR/stop appears it delivers everything and exits.
"""

import os
import sys
import time

from plexus import Plexus


def main():
    key, sid, gw_url, ws_url, work, rate = sys.argv[1:7]
    rate = float(rate)
    ledger_path = os.path.join(work, sid + ".ledger")
    gen = 1
    if os.path.exists(ledger_path):
        with open(ledger_path) as f:
            gen += sum(1 for line in f if line.startswith("gen "))
    ledger = open(ledger_path, "a")

    def record(line):
        ledger.write(line + "\n")
        ledger.flush()
        os.fsync(ledger.fileno())

    record("gen %d" % gen)
    px = Plexus(api_key=key, source_id=sid, ws_url=ws_url, gateway_url=gw_url, timeout=5,
                buffer_path=os.path.join(work, sid + ".db"))
    base, i, period = gen * 10 ** 7, 0, 0.1
    stop = os.path.join(work, "stop")
    while not os.path.exists(stop):
        for _ in range(max(1, int(rate * period))):
            px.send("seq", base + i)
            i += 1
        if px.persist(10):
            record("ok %d %d" % (gen, i))
        time.sleep(period)
    px.persist()
    record("ok %d %d" % (gen, i))
    delivered = px.flush_buffer(300)
    print("done", sid, "delivered" if delivered else "NOT DELIVERED", px.buffer_size(), flush=True)
    px.close()


if __name__ == "__main__":
    main()
