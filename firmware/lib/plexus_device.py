"""Board helpers for the Plexus firmware (main.py): the config file, the
status LED, Wi-Fi with backoff, the watchdog, the sensors every board has,
and deep sleep.

Board-only modules (machine, network, esp32) are imported where they are used
and their absence is handled, so this file runs unchanged on an ESP32, a
Pico W and the MicroPython unix port (no Wi-Fi, LED or watchdog there).
"""

import gc
import json
import sys
import time

from plexus_core.backoff import Backoff
from plexus_core.source_id import source_id_error

CONFIG_PATH = "/plexus_config.json"

# Every setting main.py reads; the config file on flash overrides these.
DEFAULTS = {
    "wifi_ssid": "",
    "wifi_password": "",
    "api_key": "",
    "source_id": "",  # empty: "<platform>-<chip id>", stable for this board
    "gateway_url": "https://gateway.plexus.company",
    "ws_url": "",  # empty: derived from gateway_url
    "transport": "ws",  # or "http"
    "interval_s": 10,  # seconds between readings
    "watchdog_s": 60,  # 0 turns the watchdog off (RP2040: at most 8.3 s)
    "deep_sleep_s": 0,  # > 0: read, buffer to flash, sync, deep-sleep this long
    "sync_min_points": 1,  # deep sleep: go online once this many readings wait
    "led_pin": None,  # None: the board's own LED where known (Pico W)
    "store": "/data/plexus",  # flash buffer; not "/plexus", which would shadow the package
    "ca_file": "",  # https gateways: the CA certificate (DER or PEM) that signed the gateway's
    "tls_verify": True,  # False skips certificate checks (not recommended)
}

WIFI_CONNECT_TIMEOUT_MS = 20000


class ConfigError(Exception):
    pass


def load_config(path=CONFIG_PATH):
    """The merged settings; raises ConfigError saying what to fix."""
    try:
        with open(path) as f:
            cfg = json.load(f)
    except OSError:
        raise ConfigError("no %s on the board: run `plexus deploy --key ...` "
                          "or copy firmware/plexus_config.example.json there" % path)
    except ValueError:
        raise ConfigError("%s is not valid JSON: fix it or run `plexus deploy` again" % path)
    if not isinstance(cfg, dict):
        raise ConfigError("%s must hold a JSON object" % path)
    merged = dict(DEFAULTS)
    merged.update(cfg)
    if not merged["api_key"]:
        raise ConfigError("no api_key in %s: run `plexus deploy --key plx_...`" % path)
    url = merged["gateway_url"]
    if not (url.startswith("http://") or url.startswith("https://")):
        raise ConfigError("gateway_url %r must start with http:// or https://" % url)
    if merged["transport"] not in ("ws", "http"):
        raise ConfigError("transport must be \"ws\" or \"http\"")
    for key in ("interval_s", "watchdog_s", "deep_sleep_s", "sync_min_points"):
        v = merged[key]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise ConfigError("%s must be a number >= 0 in %s" % (key, path))
    if merged["interval_s"] <= 0:
        raise ConfigError("interval_s must be more than 0")
    if not merged["source_id"]:
        merged["source_id"] = default_source_id()
    err = source_id_error(merged["source_id"])
    if err:
        raise ConfigError(err)
    return merged


def default_source_id():
    """'<platform>-<chip id>': the same on every boot of this board."""
    try:
        import machine
        import binascii

        return "%s-%s" % (sys.platform, binascii.hexlify(machine.unique_id()).decode()[:12])
    except (ImportError, AttributeError):
        return sys.platform + "-board"


class StatusLed:
    """On while connecting, off once online, a blink per batch of readings."""

    def __init__(self, pin=None):
        self.pin = None
        try:
            import machine

            if pin is None and sys.platform == "rp2":
                pin = "LED"  # Pico W: the LED on the Wi-Fi chip
            if pin is not None:
                self.pin = machine.Pin(pin, machine.Pin.OUT)
        except (ImportError, AttributeError, ValueError, TypeError):
            self.pin = None  # no LED on this board

    def set(self, on):
        if self.pin is not None:
            self.pin.value(1 if on else 0)

    def blink(self):
        if self.pin is not None:
            self.pin.value(1)
            time.sleep_ms(20)
            self.pin.value(0)


class Watchdog:
    """machine.WDT where the board has one. Once started it cannot be
    stopped: keep_fed() hands the board to the REPL after Ctrl-C."""

    RP2_MAX_MS = 8388

    def __init__(self, timeout_s):
        self.wdt = None
        self.timer = None
        if not timeout_s:
            return
        ms = int(timeout_s * 1000)
        if sys.platform == "rp2" and ms > self.RP2_MAX_MS:
            ms = self.RP2_MAX_MS
        try:
            import machine

            self.wdt = machine.WDT(timeout=ms)
        except (ImportError, AttributeError, ValueError):
            self.wdt = None
        self.ms = ms

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    def keep_fed(self):
        """Feed from a timer from now on, so mpremote and `plexus deploy` can
        use the REPL without a watchdog reset (until the next reset)."""
        if self.wdt is None:
            return
        try:
            import machine

            self.timer = machine.Timer(0) if sys.platform == "esp32" else machine.Timer()
            self.timer.init(period=self.ms // 2, mode=machine.Timer.PERIODIC,
                            callback=lambda t: self.wdt.feed())
        except (ImportError, AttributeError, ValueError, OSError):
            self.timer = None


def _wifi_problem(network, status):
    if status == getattr(network, "STAT_WRONG_PASSWORD", "-"):
        return "wrong password"
    if status == getattr(network, "STAT_NO_AP_FOUND", "-"):
        return "network not found"
    if status == getattr(network, "STAT_CONNECT_FAIL", "-"):
        return "connection failed"
    if isinstance(status, int) and status < 0:  # CYW43 (Pico W) link errors
        return "connection failed (status %d)" % status
    return None


class Wifi:
    """Station-mode Wi-Fi that reconnects with backoff, without blocking the
    sensor loop. Without a `network` module (unix port) the host's network
    is used and the board counts as connected."""

    def __init__(self, ssid, password, led, rand):
        self.ssid = ssid
        self.password = password
        self.led = led
        self.backoff = Backoff(rand)
        self.wlan = None
        self.network = None
        self.retry_at = None  # ticks_ms of the next attempt while down
        self.deadline = None  # ticks_ms when the current attempt gives up
        self.was_up = False
        try:
            import network

            self.network = network
        except ImportError:
            return
        if not ssid:
            print("wifi: no wifi_ssid in the config; run `plexus deploy --wifi SSID:PASSWORD`")
            return
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)

    def up(self):
        if self.network is None:
            return True
        return self.wlan is not None and self.wlan.isconnected()

    def rssi(self):
        if self.wlan is None or not self.wlan.isconnected():
            return None
        try:
            return self.wlan.status("rssi")
        except (OSError, ValueError, TypeError):
            return None

    def _start(self, now):
        print("wifi: connecting to %r" % self.ssid)
        self.led.set(True)
        try:
            self.wlan.connect(self.ssid, self.password)
        except OSError as e:
            print("wifi: connect failed: %r" % e)
        self.deadline = time.ticks_add(now, WIFI_CONNECT_TIMEOUT_MS)

    def _fail(self, now, why):
        delay = self.backoff.next_ms()
        print("wifi: %s for %r; retrying in %d s" % (why, self.ssid, delay // 1000))
        try:
            self.wlan.disconnect()
        except OSError:
            pass
        self.deadline = None
        self.retry_at = time.ticks_add(now, delay)

    def check(self):
        """Call often: True when connected; otherwise advances the attempt."""
        if self.wlan is None:
            return self.network is None
        now = time.ticks_ms()
        if self.wlan.isconnected():
            if not self.was_up:
                self.was_up = True
                self.deadline = self.retry_at = None
                self.backoff.reset()
                self.led.set(False)
                print("wifi: connected, ip %s, rssi %s dBm" % (self.wlan.ifconfig()[0], self.rssi()))
            return True
        if self.was_up:
            self.was_up = False
            print("wifi: connection lost")
            self.led.set(True)
        if self.deadline is not None:
            problem = _wifi_problem(self.network, self.wlan.status())
            if problem:
                self._fail(now, problem)
            elif time.ticks_diff(now, self.deadline) >= 0:
                self._fail(now, "no connection after %d s" % (WIFI_CONNECT_TIMEOUT_MS // 1000))
        elif self.retry_at is None or time.ticks_diff(now, self.retry_at) >= 0:
            self._start(now)
        return False

    def wait(self, timeout_ms, dog):
        """Block up to timeout_ms for a connection, feeding the watchdog."""
        start = time.ticks_ms()
        while not self.check():
            if time.ticks_diff(time.ticks_ms(), start) >= timeout_ms:
                return False
            dog.feed()
            time.sleep_ms(100)
        return True


def _mcu_temperature():
    """A function returning the chip temperature in deg C, or None."""
    try:
        import esp32

        if hasattr(esp32, "mcu_temperature"):  # S2, S3, C3, C6
            return esp32.mcu_temperature
        if hasattr(esp32, "raw_temperature"):  # original ESP32: deg F
            return lambda: (esp32.raw_temperature() - 32) / 1.8
    except ImportError:
        pass
    if sys.platform == "rp2":
        try:
            import machine

            adc = machine.ADC(getattr(machine.ADC, "CORE_TEMP", 4))
            # RP2040 datasheet 4.9.5: 27 C at 0.706 V, -1.721 mV per degree
            return lambda: 27 - (adc.read_u16() * 3.3 / 65535 - 0.706) / 0.001721
        except (ImportError, AttributeError, ValueError):
            pass
    return None


def _hall_sensor():
    try:
        import esp32

        return getattr(esp32, "hall_sensor", None)  # original ESP32, firmware < 1.21
    except ImportError:
        return None


class Sensors:
    """What every board can measure without wiring anything."""

    def __init__(self, wifi):
        self.wifi = wifi
        self.temperature = _mcu_temperature()
        self.hall = _hall_sensor()

    def read(self):
        """[(metric, value), ...] for this moment; a failing sensor is skipped."""
        out = []
        for metric, fn in (("mcu.temp_c", self.temperature), ("mcu.hall", self.hall)):
            if fn is not None:
                try:
                    out.append((metric, round(fn(), 2)))
                except (OSError, ValueError):
                    pass
        gc.collect()
        out.append(("mem.free_bytes", gc.mem_free()))
        rssi = self.wifi.rssi()
        if rssi is not None:
            out.append(("wifi.rssi_dbm", rssi))
        return out


def deep_sleep(ms):
    """Deep-sleep (the board resets on wake and runs main.py again). Where
    there is no deep sleep (unix port), sleep and return instead."""
    try:
        import machine

        sleep = machine.deepsleep
    except (ImportError, AttributeError):
        time.sleep_ms(ms)
        return
    sleep(ms)
