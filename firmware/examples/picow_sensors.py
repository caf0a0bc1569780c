# Raspberry Pi Pico W: chip temperature and free memory to Plexus, with the
# on-board LED blinking once per reading.
#
# Put the SDK on the board first (`plexus deploy --wifi SSID:PASS`, which also
# writes /plexus_config.json with the key, Wi-Fi and gateway), then make this
# file the program:  mpremote cp firmware/examples/picow_sensors.py :main.py
# Off the board, the MicroPython unix port runs it too (no Wi-Fi, LED or ADC
# there: each is skipped):  micropython picow_sensors.py my_config.json

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


def join_wifi(ssid, password, timeout_ms=20000):
    if network is None:
        return True  # unix port: the computer's network
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(ssid, password)
        start = time.ticks_ms()
        while not wlan.isconnected() and time.ticks_diff(time.ticks_ms(), start) < timeout_ms:
            time.sleep_ms(200)
    print("wifi:", wlan.ifconfig()[0] if wlan.isconnected() else "not connected (readings wait on flash)")
    return wlan.isconnected()


def temperature_sensor():
    """RP2040's own sensor on ADC 4: 27 C at 0.706 V, -1.721 mV per degree."""
    try:
        adc = machine.ADC(4)
    except (AttributeError, ValueError, TypeError):
        return None
    return lambda: 27 - (adc.read_u16() * 3.3 / 65535 - 0.706) / 0.001721


def led():
    try:
        return machine.Pin("LED", machine.Pin.OUT)  # the LED sits on the Wi-Fi chip
    except (AttributeError, ValueError, TypeError):
        return None


with open(CONFIG) as f:
    cfg = json.load(f)
join_wifi(cfg.get("wifi_ssid"), cfg.get("wifi_password"))
px = Plexus(cfg["api_key"], cfg.get("source_id") or "pico-w", cfg["gateway_url"],
            store=cfg.get("store", "/data/plexus"))  # not /plexus: it would shadow the package
temp, light = temperature_sensor(), led()
interval_ms = int(cfg.get("interval_s", 10) * 1000)
limit = cfg.get("max_readings", 0)  # 0: forever
n = 0
next_at = time.ticks_ms()
while not limit or n < limit:
    if time.ticks_diff(time.ticks_ms(), next_at) >= 0:
        gc.collect()
        readings = [("mem.free_bytes", gc.mem_free())]
        if temp is not None:
            readings.append(("mcu.temp_c", round(temp(), 2)))
        px.send_batch(readings)  # to flash; never waits for the network
        n += 1
        next_at = time.ticks_add(next_at, interval_ms)
        if light is not None:
            light.toggle()
    try:
        px.poll()  # bounded network work: delivers what waits on flash
    except Exception as e:  # a refused key or reading: say so, keep measuring
        print("plexus:", e)
    time.sleep_ms(20)
print("sent", n, "readings;", "all delivered" if px.flush(30) else "the rest waits on flash")
px.close()
