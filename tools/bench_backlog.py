"""Backlog drain: a 10-minute gateway outage at 100 readings/s leaves 60,000
readings in the client's SQLite buffer; how long after the gateway returns
until all are stored, with no further send() to trigger it.

    .venv/bin/python tools/bench_backlog.py [--minutes 10] [--rate 100]

The outage is compressed: the readings carry the timestamps they would have
had (10 ms apart over 10 minutes) but are sent while the gateway is down.
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from support.gateway import Gateway  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=100, help="readings per second during the outage")
    args = ap.parse_args()
    os.environ["PLEXUS_QUIET"] = "1"
    from plexus import Plexus

    n = int(args.minutes * 60 * args.rate)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HOME"] = tmp
        gw = Gateway(os.path.join(tmp, "gw"))
        gw.start()
        url, ws_url = gw.url, gw.ws_url
        gw.stop()                                     # the outage
        px = Plexus(api_key=gw.key, source_id="backlog", gateway_url=url, ws_url=ws_url,
                    buffer_path=os.path.join(tmp, "buffer.db"))
        t0 = int(time.time() * 1000) - int(args.minutes * 60000)
        step = 1000.0 / args.rate
        for i in range(n):
            px.send("reading", i, timestamp=t0 + int(i * step))
        px.persist()
        assert px.buffer_size() == n, px.buffer_size()
        gw.start()                                    # back on the same port
        back = time.perf_counter()
        while gw.count("backlog") < n:
            time.sleep(0.01)                          # polling the database for the end
            if time.perf_counter() - back > 300:
                break
        drained = time.perf_counter() - back
        stored = gw.count("backlog")
        px.close()
        gw.stop()
    print("backlog of %d readings (%.0f min at %.0f/s): stored %d in %.2f s after the gateway returned "
          "(target <= 2 s), no send() needed" % (n, args.minutes, args.rate, stored, drained))
    print("RESULT " + json.dumps({"readings": n, "stored": stored, "drain_s": round(drained, 3)}))


if __name__ == "__main__":
    main()
