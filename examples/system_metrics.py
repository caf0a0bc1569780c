"""Computer health: CPU, memory, disk and temperature, on Linux and macOS.

    pip install psutil     # optional: without it, load and disk only
    python examples/system_metrics.py --interval 10

Good for a Raspberry Pi or a Jetson next to the hardware it runs: you see
when the computer itself is the problem (thermal throttling, a full disk).
"""

import argparse
import os
import shutil
import socket
import time

from plexus import Plexus

try:
    import psutil
except ImportError:  # the standard library still gives load and disk
    psutil = None


def cpu_temperature():
    """The hottest CPU sensor in deg C, or None (macOS and most VMs have none)."""
    if psutil is None or not hasattr(psutil, "sensors_temperatures"):
        return None
    try:
        sensors = psutil.sensors_temperatures()
    except (OSError, RuntimeError):
        return None
    temps = [t.current for name, entries in sensors.items()
             if name in ("cpu_thermal", "coretemp", "k10temp", "soc_thermal", "cpu-thermal")
             for t in entries if t.current]
    return max(temps) if temps else None


def readings(disk_path):
    du = shutil.disk_usage(disk_path)
    out = [("disk.used_pct", round(100.0 * (du.total - du.free) / du.total, 2))]
    if hasattr(os, "getloadavg"):
        out.append(("cpu.load_1m", os.getloadavg()[0]))
    if psutil is not None:
        out.append(("cpu.used_pct", psutil.cpu_percent(interval=None)))  # since the last call
        out.append(("mem.used_pct", psutil.virtual_memory().percent))
        temp = cpu_temperature()
        if temp is not None:
            out.append(("cpu.temp_c", round(temp, 1)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source-id", default=None, help="default: this computer's host name")
    ap.add_argument("--count", type=int, default=0, help="stop after N samples (default: run until Ctrl-C)")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--disk", default="/", help="filesystem to watch")
    args = ap.parse_args()

    # A source id is lowercase letters, digits, '.', '_' and '-'.
    host = socket.gethostname().split(".")[0].lower().replace(" ", "-") or "host"
    px = Plexus(source_id=args.source_id or host)
    if psutil is not None:
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement
    else:
        print("psutil is not installed: sending load and disk only (pip install psutil)")

    n = 0
    try:
        while not args.count or n < args.count:
            time.sleep(args.interval)
            px.send_batch(readings(args.disk), tags={"host": host})
            n += 1
    except KeyboardInterrupt:
        pass
    finally:
        ok = px.flush_buffer(timeout=30)
        print("%d samples from %s; %s" % (n, px.source_id, "all stored" if ok else "the rest stays buffered"))
        px.close()


if __name__ == "__main__":
    main()
