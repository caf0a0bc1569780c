# Battery boards: wake, take one reading, keep it on flash, and go online
# only every SYNC_EVERY wakes to deliver the batch; then deep-sleep again.
# Wi-Fi is the costly part, so most wakes last well under a second.
#
# Works on an ESP32 or a Pico W (copy it as main.py after `plexus deploy`;
# the board resets at every wake and runs main.py from the top). The unix
# port has no deep sleep: there each "wake" runs in a loop instead, so
#   micropython deep_sleep.py my_config.json   shows the same cycle.

import gc
import json
import sys
import time

from plexus import Plexus

try:  # board-only modules: absent on the unix port
    import machine
    import network
except ImportError:
    machine = network = None

CONFIG = sys.argv[1] if len(sys.argv) > 1 else "/plexus_config.json"
SYNC_EVERY = 3  # wakes between network syncs (readings wait on flash meanwhile)


def join_wifi(ssid, password, timeout_ms=20000):
    if network is None:
        return True
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.connect(ssid, password)
    start = time.ticks_ms()
    while not wlan.isconnected() and time.ticks_diff(time.ticks_ms(), start) < timeout_ms:
        time.sleep_ms(100)
    return wlan.isconnected()


def wake(cfg):
    """One wake: a new client (as after a reset), one reading, maybe a sync."""
    px = Plexus(cfg["api_key"], cfg.get("source_id") or "sleeper", cfg["gateway_url"],
                store=cfg.get("store", "/data/plexus"), linger_ms=0)
    gc.collect()
    px.send("mem.free_bytes", gc.mem_free())
    px.persist()  # on flash now: survives the deep sleep (RAM does not)
    waiting = px.buffer_size()
    if waiting >= SYNC_EVERY and join_wifi(cfg.get("wifi_ssid"), cfg.get("wifi_password")):
        ok = px.flush(30)  # deliver everything waiting, or keep it for the next sync
        print("sync:", waiting, "readings", "delivered" if ok else "kept on flash:", px.last_error or "")
        px.close()
    else:
        print("wake:", waiting, "readings waiting on flash")


def deep_sleep(ms):
    if machine is not None and hasattr(machine, "deepsleep"):
        machine.deepsleep(ms)  # does not return: the board resets on wake
    time.sleep_ms(ms)  # unix port: a plain pause


with open(CONFIG) as f:
    cfg = json.load(f)
sleep_ms = int(cfg.get("deep_sleep_s", 60) * 1000)
wakes = cfg.get("max_readings", 0)  # unix port: stop after this many wakes (0: forever)
n = 0
while not wakes or n < wakes:
    wake(cfg)
    n += 1
    if not wakes or n < wakes:
        deep_sleep(sleep_ms)
