"""A drone or rover autopilot (PX4, ArduPilot) over MAVLink, with pymavlink.

    pip install pymavlink                                         # or, in a checkout: pip install -e '.[examples]'
    python examples/mavlink.py --connect udpin:0.0.0.0:14550    # telemetry radio / SITL / companion computer
    python examples/mavlink.py --connect /dev/ttyAMA0,57600     # serial link to the flight controller
    python examples/mavlink.py --connect flight.tlog            # replay a recorded telemetry log

Battery, position, attitude and flight mode become Plexus readings. Each
keeps the time it was received (for a .tlog, the time it was recorded), so
a replayed log lands where it happened.
"""

import argparse
import math

from pymavlink import mavutil

from plexus import Plexus


def readings(msg):
    """[(metric, value)] for the messages we chart; [] for the rest."""
    t = msg.get_type()
    if t == "SYS_STATUS":
        out = [("battery.voltage", msg.voltage_battery / 1000.0)]
        if msg.battery_remaining >= 0:  # -1: the autopilot does not know
            out.append(("battery.remaining_pct", msg.battery_remaining))
        return out
    if t == "GLOBAL_POSITION_INT":
        return [("gps.lat", msg.lat / 1e7), ("gps.lon", msg.lon / 1e7),
                ("gps.alt_rel_m", msg.relative_alt / 1000.0), ("gps.heading_deg", msg.hdg / 100.0)]
    if t == "ATTITUDE":
        return [("att.roll_deg", round(math.degrees(msg.roll), 2)),
                ("att.pitch_deg", round(math.degrees(msg.pitch), 2)),
                ("att.yaw_deg", round(math.degrees(msg.yaw), 2))]
    if t == "VFR_HUD":
        return [("speed.ground_mps", msg.groundspeed), ("speed.climb_mps", msg.climb)]
    return []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connect", default="udpin:0.0.0.0:14550", help="pymavlink connection string or .tlog file")
    ap.add_argument("--source-id", default="drone-1")
    ap.add_argument("--count", type=int, default=0, help="stop after N messages used (default: until the link or log ends)")
    args = ap.parse_args()

    link = mavutil.mavlink_connection(args.connect)
    replay = args.connect.endswith((".tlog", ".log"))
    px = Plexus(source_id=args.source_id)
    used = 0
    mode = armed = None
    try:
        while not args.count or used < args.count:
            msg = link.recv_match(blocking=not replay, timeout=None if replay else 5)
            if msg is None:
                if replay:
                    break  # end of the log
                continue
            if msg.get_type() == "BAD_DATA":
                continue
            ts = msg._timestamp  # receive time, or the recording time in a .tlog (epoch s)
            if msg.get_type() == "HEARTBEAT" and msg.type != mavutil.mavlink.MAV_TYPE_GCS:
                now_mode = mavutil.mode_string_v10(msg)
                now_armed = bool(msg.base_mode & mavutil.mavlink.MAV_MODE_FLAG_SAFETY_ARMED)
                if (now_mode, now_armed) != (mode, armed):  # events only on a change
                    px.event("flight.mode", {"mode": now_mode, "armed": now_armed}, timestamp=ts)
                    mode, armed = now_mode, now_armed
                    used += 1
                continue
            values = readings(msg)
            if values:
                px.send_batch(values, timestamp=ts)
                used += 1
    except KeyboardInterrupt:
        pass
    finally:
        ok = px.flush_buffer(timeout=30)
        print("%d MAVLink messages sent as %s; %s" % (used, px.source_id, "all stored" if ok else "the rest stays buffered"))
        px.close()


if __name__ == "__main__":
    main()
