"""The smallest useful Plexus program: readings, an event and a batch.

    export PLEXUS_API_KEY=plx_...                      # `plexus gateway keys create` for a local gateway
    export PLEXUS_GATEWAY_URL=http://127.0.0.1:8080    # omit for the hosted gateway
    python examples/basic.py --count 20

send() validates the reading and returns at once: a background thread
batches readings into a local SQLite buffer and delivers them, so nothing
is lost while the network or the gateway is away.
"""

import argparse
import math
import time

from plexus import Plexus


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source-id", default="bench-pump", help="name of this device's stream")
    ap.add_argument("--count", type=int, default=0, help="stop after N readings (default: run until Ctrl-C)")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between readings")
    args = ap.parse_args()

    # The key and the gateway come from PLEXUS_API_KEY / PLEXUS_GATEWAY_URL
    # (or ~/.plexus/config.json, written by `plexus init`).
    px = Plexus(source_id=args.source_id)
    px.event("state_change", {"from": "OFF", "to": "RUNNING"})  # events carry text, bools, dicts, lists

    i = 0
    try:
        while not args.count or i < args.count:
            t = time.time()
            temp = 60 + 20 * math.sin(t / 30)
            px.send("coolant.temp_c", round(temp, 2))                  # a number: a metric
            px.send("motor.rpm", 1450 + i % 100, tags={"motor": "m1"})  # tags: low-cardinality labels
            # several readings with one shared timestamp
            px.send_batch([("pressure.in_kpa", 101.2 + i % 5), ("pressure.out_kpa", 240.0 - i % 7)])
            i += 1
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        px.event("state_change", {"from": "RUNNING", "to": "OFF"})
        delivered = px.flush_buffer(timeout=30)  # wait for the gateway to confirm it stored everything
        print("sent %d cycles as %s; %s" % (i, px.source_id,
              "all stored by the gateway" if delivered else "%d readings kept on disk for later" % px.buffer_size()))
        px.close()


if __name__ == "__main__":
    main()
