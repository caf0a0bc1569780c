# Commands on a board: a relay and an LED an operator can switch from
# `plexus command`, the dashboard or the Data API, with typed parameters
# checked before the handler runs. Handlers run inside px.poll(), one at a
# time, so keep them short (no threads on a board).
#
#   plexus command greenhouse-1 set_relay --param on=true --wait
#   plexus command greenhouse-1 blink --param times=3 --wait
#
# Copy it as main.py after `plexus deploy`; the unix port runs it too (the
# pins are stand-ins there):  micropython commands.py my_config.json

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
RELAY_PIN = 15


class StandInPin:
    """The unix port has no GPIO: remember the value so the example still runs."""

    def __init__(self):
        self.v = 0

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v


def pin(name):
    try:
        return machine.Pin(name, machine.Pin.OUT)
    except (AttributeError, ValueError, TypeError):
        return StandInPin()


def join_wifi(ssid, password, timeout_ms=20000):
    if network is None:
        return
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.connect(ssid, password)
    start = time.ticks_ms()
    while not wlan.isconnected() and time.ticks_diff(time.ticks_ms(), start) < timeout_ms:
        time.sleep_ms(200)


with open(CONFIG) as f:
    cfg = json.load(f)
join_wifi(cfg.get("wifi_ssid"), cfg.get("wifi_password"))
px = Plexus(cfg["api_key"], cfg.get("source_id") or "relay-board", cfg["gateway_url"],
            store=cfg.get("store", "/data/plexus"))
relay, led = pin(RELAY_PIN), pin("LED" if sys.platform == "rp2" else 2)


@px.command(params={"on": {"type": "boolean"}}, danger="dangerous", idempotent=True)
def set_relay(run, on):
    relay.value(1 if on else 0)
    px.send("relay.on", 1 if on else 0)  # the new state is a reading too
    return {"on": on}


@px.command(params={"times": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3}})
def blink(run, times=3):
    for i in range(times):
        led.value(1)
        time.sleep_ms(100)
        led.value(0)
        time.sleep_ms(100)
    return {"blinked": times}


print("commands set_relay and blink ready on", px.source_id)
limit_ms = int(cfg.get("max_seconds", 0) * 1000)  # 0: forever
start = time.ticks_ms()
while not limit_ms or time.ticks_diff(time.ticks_ms(), start) < limit_ms:
    try:
        px.poll()  # network work; runs a handler when a command arrives
    except Exception as e:
        print("plexus:", e)
    time.sleep_ms(20)
px.close()
print("relay", relay.value())
