"""CAN bus to Plexus with python-can: decode frames, send the signals.

    pip install python-can                                         # or, in a checkout: pip install -e '.[examples]'
    python examples/can.py --simulate --count 200                        # no hardware: virtual bus
    python examples/can.py --interface socketcan --channel can0          # Linux SocketCAN

The decoder below knows two frames of a made-up engine controller; replace
DECODERS with your own (or load a DBC file with the `cantools` package).
Each reading keeps the frame's own receive time, so a backlog or a slow
network never shifts the data in time.
"""

import os
import struct
import sys
import threading

# This file is named can.py: take its folder off the import path so that
# `import can` below finds python-can, not this file.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]

import argparse  # noqa: E402

import can  # noqa: E402

from plexus import Plexus  # noqa: E402

ENGINE, BATTERY = 0x0C0, 0x1A0


def decode_engine(data):
    rpm, coolant, throttle = struct.unpack_from(">HBB", data)
    return [("engine.rpm", rpm), ("engine.coolant_c", coolant - 40), ("engine.throttle_pct", throttle)]


def decode_battery(data):
    mv, centiamps = struct.unpack_from(">Hh", data)
    return [("battery.voltage", mv / 1000.0), ("battery.current_a", centiamps / 100.0)]


DECODERS = {ENGINE: decode_engine, BATTERY: decode_battery}


def simulate(interface, channel, stop):
    """A stand-in engine controller: the frames a real bus would carry."""
    with can.Bus(interface=interface, channel=channel) as bus:
        i = 0
        while not stop.is_set():
            rpm = 800 + (i * 37) % 3000
            bus.send(can.Message(arbitration_id=ENGINE, is_extended_id=False,
                                 data=struct.pack(">HBB", rpm, 40 + 85, i % 101)))
            bus.send(can.Message(arbitration_id=BATTERY, is_extended_id=False,
                                 data=struct.pack(">Hh", 12600 - i % 400, -150 + i % 300)))
            i += 1
            stop.wait(0.01)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interface", default="virtual", help="python-can interface: virtual, socketcan, pcan, ...")
    ap.add_argument("--channel", default="plexus-demo", help="e.g. can0 for socketcan")
    ap.add_argument("--simulate", action="store_true", help="run a simulated controller on the same bus")
    ap.add_argument("--source-id", default="can-logger")
    ap.add_argument("--count", type=int, default=0, help="stop after N decoded frames (default: run until Ctrl-C)")
    args = ap.parse_args()

    px = Plexus(source_id=args.source_id)
    stop = threading.Event()
    decoded = unknown = 0
    with can.Bus(interface=args.interface, channel=args.channel) as bus:
        if args.simulate:
            threading.Thread(target=simulate, args=(args.interface, args.channel, stop), daemon=True).start()
        try:
            while not args.count or decoded < args.count:
                msg = bus.recv(timeout=1.0)
                if msg is None or msg.is_error_frame:
                    continue
                decode = DECODERS.get(msg.arbitration_id)
                if decode is None:
                    unknown += 1
                    continue
                px.send_batch(decode(msg.data), timestamp=msg.timestamp)  # the frame's receive time
                decoded += 1
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
    ok = px.flush_buffer(timeout=30)
    print("decoded %d frames (%d with unknown ids) from %s; %s"
          % (decoded, unknown, args.channel, "all stored" if ok else "the rest stays buffered"))
    px.close()


if __name__ == "__main__":
    main()
