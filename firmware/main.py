# main.py: Plexus firmware. Reads the sensors every board has (chip
# temperature, free memory, Wi-Fi signal) and ships them to Plexus; readings
# wait on flash while the network or the gateway is away.
#
# Settings come from /plexus_config.json (written by `plexus deploy`; every
# key is in plexus_config.example.json). The loop itself is lib/plexus_app.py.
# Ctrl-C stops the loop and leaves the REPL usable.

import plexus_app


def read_sensors(sensors):
    """The readings of one cycle: [(metric, value), ...]. Add your own, e.g.
    out.append(("env.humidity_pct", sht31.humidity()))"""
    out = sensors.read()
    return out


plexus_app.main(read_sensors)
