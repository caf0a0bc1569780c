# main.py of the demo board: the firmware template (firmware/main.py) with
# its read_sensors hook filled in. It counts what it hands to the firmware
# and, while /stop exists, takes no readings (the count goes to /sent.json);
# the firmware loop keeps delivering what waits on flash.
import math
import os

import plexus_app

state = {"n": 0, "cycles": 0, "stopped": False}


def stop_requested():
    try:
        os.stat("/stop")
        return True
    except OSError:
        return False


def read_sensors(sensors):
    if stop_requested():  # paused until /stop goes away
        if not state["stopped"]:
            state["stopped"] = True
            with open("/sent.json", "w") as f:
                f.write('{"sent": %d}' % state["n"])
            print("demo: stopped after %d readings" % state["n"])
        return []
    state["stopped"] = False
    out = sensors.read()
    state["cycles"] += 1
    out.append(("demo.seq", state["cycles"]))
    out.append(("env.light_lux", round(300 + 200 * math.sin(state["cycles"] / 20), 1)))
    state["n"] += len(out)
    print("demo: %d readings" % state["n"])
    return out


plexus_app.main(read_sensors)
