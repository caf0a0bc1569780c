"""The Plexus firmware loop, started by main.py: settings from the config
file, Wi-Fi, the sensor loop or the deep-sleep cycle, and progress on the
serial console. It lives in lib/ (compiled to .mpy by `plexus deploy`) so
that main.py stays small: a board compiles main.py from source at every
boot, and compiling costs heap.
"""

import time

import plexus_device as dev
from plexus import Plexus, PlexusError, AuthenticationError

ONLINE = "plexus: online"  # `plexus deploy` waits for this line
PROGRESS_EVERY_MS = 10000
SYNC_TIMEOUT_MS = 30000


def random01():
    try:
        import random

        return random.random()
    except ImportError:
        return 0.5


class Firmware:
    """The board's parts (LED, watchdog, Wi-Fi, sensors) and the client."""

    def __init__(self, cfg, read_sensors):
        self.cfg = cfg
        self.read_sensors = read_sensors
        self.led = dev.StatusLed(cfg["led_pin"])
        self.dog = dev.Watchdog(cfg["watchdog_s"])
        self.wifi = dev.Wifi(cfg["wifi_ssid"], cfg["wifi_password"], self.led, random01)
        self.sensors = dev.Sensors(self.wifi)
        self.px = None
        self.taken = 0
        self.online = False
        self.auth_reported = False
        self.printed = None

    def client(self):
        c = self.cfg
        return Plexus(c["api_key"], c["source_id"], c["gateway_url"], ws_url=c["ws_url"] or None,
                      transport=c["transport"], store=c["store"], ca=c["ca_file"] or None,
                      tls_verify=c["tls_verify"])

    def take_readings(self):
        readings = self.read_sensors(self.sensors)
        for metric, value in readings:
            try:
                self.px.send(metric, value)
            except PlexusError as e:  # a bad reading is reported, never fatal
                print("plexus: %s not sent: %s" % (metric, e))
        self.taken += len(readings)
        self.led.blink()

    def report(self):
        now = time.ticks_ms()
        if self.printed is None or time.ticks_diff(now, self.printed) >= PROGRESS_EVERY_MS:
            self.printed = now
            print("plexus: %d readings taken, %d waiting on flash" % (self.taken, self.px.buffer_size()))

    def poll(self):
        """Bounded network work; False when the client reported an error."""
        try:
            self.px.poll()
        except AuthenticationError:
            if not self.auth_reported:
                self.auth_reported = True
                print("plexus: the gateway refused the API key; readings stay on flash. "
                      "Fix it with `plexus deploy --key plx_...`")
            return False
        except PlexusError as e:
            print("plexus: %s" % e)
            return False
        if not self.online and self.taken and self.px.buffer_size() == 0:
            self.online = True
            print("%s: readings reach %s" % (ONLINE, self.cfg["gateway_url"]))
        return True

    def run(self):
        """Continuous mode: a reading every interval_s, network in between."""
        self.px = self.client()
        if self.wifi.wlan is not None:
            self.wifi.wait(15000, self.dog)
        interval_ms = int(self.cfg["interval_s"] * 1000)
        next_read = time.ticks_ms()
        while True:
            self.dog.feed()
            now = time.ticks_ms()
            if time.ticks_diff(now, next_read) >= 0:
                self.take_readings()
                self.report()
                next_read = time.ticks_add(next_read, interval_ms)
                if time.ticks_diff(now, next_read) > 0:  # fell behind: no burst
                    next_read = time.ticks_add(now, interval_ms)
            if self.wifi.check():
                self.poll()
            time.sleep_ms(50)

    def sleep_cycle(self):
        """Deep-sleep mode: one reading per wake, kept on flash; go online
        only once sync_min_points readings wait, then sleep again."""
        self.px = self.client()
        self.take_readings()
        waiting = self.px.buffer_size()
        if waiting >= self.cfg["sync_min_points"] and self.wifi.wait(SYNC_TIMEOUT_MS, self.dog):
            deadline = time.ticks_add(time.ticks_ms(), SYNC_TIMEOUT_MS)
            while self.px.buffer_size() and time.ticks_diff(deadline, time.ticks_ms()) > 0:
                self.dog.feed()
                if not self.poll():
                    break
                time.sleep_ms(20)
        print("plexus: %d readings waiting on flash" % self.px.buffer_size())
        self.px.close()
        print("plexus: deep sleep for %s s" % self.cfg["deep_sleep_s"])
        dev.deep_sleep(int(self.cfg["deep_sleep_s"] * 1000))


def main(read_sensors):
    """Run the firmware; read_sensors(sensors) returns [(metric, value), ...]."""
    try:
        cfg = dev.load_config()
    except dev.ConfigError as e:
        print("plexus: config problem: %s" % e)
        return
    fw = Firmware(cfg, read_sensors)
    print("plexus: source_id %s, gateway %s, every %s s" % (
        cfg["source_id"], cfg["gateway_url"], cfg["deep_sleep_s"] or cfg["interval_s"]))
    try:
        if cfg["deep_sleep_s"]:
            while True:  # on a board deep sleep resets; where it cannot, it returns
                fw.sleep_cycle()
        else:
            fw.run()
    except ValueError as e:  # the client refused a setting, e.g. TLS without a CA
        print("plexus: config problem: %s (in %s; `plexus deploy --ca FILE` installs a CA)"
              % (e, dev.CONFIG_PATH))
    except KeyboardInterrupt:
        fw.dog.keep_fed()
        print("plexus: stopped by Ctrl-C; readings not yet sent stay on flash")
