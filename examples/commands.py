"""Commands: let operators act on a device from the CLI, the dashboard or
the Data API, with typed parameters checked before your code runs.

    python examples/commands.py                      # declares the commands and serves them
    plexus command test-rig set_fan --param speed=60 --wait
    plexus command test-rig open_valve --param valve=2 --wait

A handler gets the run first (run.id, run.attempt, run.progress(...)) and
the declared parameters as keyword arguments, already converted to their
types and range-checked. Its return value is the result the operator sees;
an exception fails the run with the exception's text.
"""

import argparse
import time

from plexus import Plexus

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--source-id", default="test-rig")
ap.add_argument("--seconds", type=float, default=None, help="stop after S seconds (default: until Ctrl-C)")
args = ap.parse_args()

px = Plexus(source_id=args.source_id)
state = {"fan_pct": 0, "valves": set()}


@px.command(params={"speed": {"type": "integer", "minimum": 0, "maximum": 100, "unit": "%"}},
            idempotent=True, title="Set fan speed")
def set_fan(run, speed):
    state["fan_pct"] = speed
    px.send("fan.speed_pct", speed)  # the new state is a reading too
    return {"fan_pct": speed}


@px.command(params={"valve": {"type": "integer", "minimum": 1, "maximum": 4},
                    "seconds": {"type": "number", "minimum": 0.1, "maximum": 30, "default": 1.0}},
            danger="dangerous", concurrency="reject", expires_in=15, title="Open a valve")
def open_valve(run, valve, seconds=1.0):  # optional params need a default here too
    # concurrency="reject": a second open_valve while this one runs is answered `busy`
    if valve in state["valves"]:
        raise RuntimeError("valve %d is already open" % valve)
    state["valves"].add(valve)
    px.event("valve", {"valve": valve, "open": True})
    steps = 5
    for i in range(steps):
        time.sleep(seconds / steps)
        run.progress(100.0 * (i + 1) / steps, "open %d/%d" % (i + 1, steps))
    state["valves"].discard(valve)
    px.event("valve", {"valve": valve, "open": False})
    return {"valve": valve, "open_s": seconds}


print("declared set_fan and open_valve on %s" % px.source_id, flush=True)
px.serve(timeout=args.seconds)  # blocks until Ctrl-C / SIGTERM (commands run on their own threads)
px.close()
print("stopped; fan at %d%%" % state["fan_pct"])
