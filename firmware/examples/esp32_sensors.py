# ESP32: chip temperature, an analog sensor on GPIO 34 (a potentiometer,
# a soil-moisture probe...), Wi-Fi signal and free memory to Plexus.
#
# Put the SDK on the board first (`plexus deploy --wifi SSID:PASS`, which also
# writes /plexus_config.json with the key, Wi-Fi and gateway), then make this
# file the program:  mpremote cp firmware/examples/esp32_sensors.py :main.py
# Off the board, the MicroPython unix port runs it too (no Wi-Fi or sensors
# there: each is skipped):  micropython esp32_sensors.py my_config.json

import gc
import json
import sys
import time

from plexus import Plexus

try:  # board-only modules: absent on the unix port
    import esp32
    import machine
    import network
except ImportError:
    esp32 = machine = network = None

CONFIG = sys.argv[1] if len(sys.argv) > 1 else "/plexus_config.json"
ADC_PIN = 34  # ADC1 pins (32-39) keep working while Wi-Fi is on; ADC2 pins do not


def join_wifi(ssid, password, timeout_ms=20000):
    if network is None:
        return None  # unix port: the computer's network
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected():
        wlan.connect(ssid, password)
        start = time.ticks_ms()
        while not wlan.isconnected() and time.ticks_diff(time.ticks_ms(), start) < timeout_ms:
            time.sleep_ms(200)
    print("wifi:", wlan.ifconfig()[0] if wlan.isconnected() else "not connected (readings wait on flash)")
    return wlan


def sensors(wlan):
    """[(metric, function)] for what this board has."""
    out = []
    if esp32 is not None and hasattr(esp32, "mcu_temperature"):  # S2, S3, C3, C6
        out.append(("mcu.temp_c", esp32.mcu_temperature))
    elif esp32 is not None and hasattr(esp32, "raw_temperature"):  # original ESP32: deg F
        out.append(("mcu.temp_c", lambda: round((esp32.raw_temperature() - 32) / 1.8, 1)))
    if machine is not None:
        adc = machine.ADC(machine.Pin(ADC_PIN))
        adc.atten(machine.ADC.ATTN_11DB)  # full range, about 0-3.1 V
        out.append(("probe.volts", lambda: round(adc.read_uv() / 1e6, 3)))
    if wlan is not None:
        out.append(("wifi.rssi_dbm", lambda: wlan.status("rssi") if wlan.isconnected() else None))
    out.append(("mem.free_bytes", lambda: gc.collect() or gc.mem_free()))
    return out


with open(CONFIG) as f:
    cfg = json.load(f)
wlan = join_wifi(cfg.get("wifi_ssid"), cfg.get("wifi_password"))
px = Plexus(cfg["api_key"], cfg.get("source_id") or "esp32", cfg["gateway_url"],
            store=cfg.get("store", "/data/plexus"))  # not /plexus: it would shadow the package
table = sensors(wlan)
interval_ms = int(cfg.get("interval_s", 10) * 1000)
limit = cfg.get("max_readings", 0)  # 0: forever
n = 0
next_at = time.ticks_ms()
while not limit or n < limit:
    if time.ticks_diff(time.ticks_ms(), next_at) >= 0:
        for metric, read in table:
            try:
                value = read()
                if value is not None:
                    px.send(metric, value)  # to flash; never waits for the network
            except (OSError, ValueError) as e:  # one failing sensor must not stop the rest
                print(metric, "failed:", e)
        n += 1
        next_at = time.ticks_add(next_at, interval_ms)
    try:
        px.poll()  # bounded network work: delivers what waits on flash
    except Exception as e:  # a refused key or reading: say so, keep measuring
        print("plexus:", e)
    time.sleep_ms(20)
print("took", n, "readings;", "all delivered" if px.flush(30) else "the rest waits on flash")
px.close()
