# main.py: Plexus firmware. Reads the sensors every board has (chip
# temperature, free memory, Wi-Fi signal) and ships them to Plexus; readings
# wait on flash while the network or the gateway is away.
#
# Settings come from /plexus_config.json (written by `plexus deploy`; see
# plexus_config.example.json). Add your own sensors in read_sensors().
# Ctrl-C stops the loop and leaves the REPL usable.

import time

import plexus_device as dev
from plexus import Plexus, PlexusError, AuthenticationError

ONLINE = "plexus: online"  # `plexus deploy` waits for this line


def read_sensors(sensors):
    """[(metric, value), ...]: extend with your own, e.g.
    out.append(("env.humidity_pct", sht31.humidity()))"""
    out = sensors.read()
    return out


def random01():
    try:
        import random

        return random.random()
    except ImportError:
        return 0.5


def send_readings(px, sensors, led):
    readings = read_sensors(sensors)
    for metric, value in readings:
        try:
            px.send(metric, value)
        except PlexusError as e:  # a bad reading is reported, never fatal
            print("plexus: %s not sent: %s" % (metric, e))
    led.blink()
    return len(readings)


class Progress:
    """Prints what the board is doing, at most every 10 s."""

    EVERY_MS = 10000

    def __init__(self, gateway):
        self.gateway = gateway
        self.sent = 0
        self.online = False
        self.auth_reported = False
        self.printed = None

    def cycle(self, px, n):
        self.sent += n
        now = time.ticks_ms()
        if self.printed is None or time.ticks_diff(now, self.printed) >= self.EVERY_MS:
            self.printed = now
            print("plexus: %d readings taken, %d waiting on flash" % (self.sent, px.buffer_size()))

    def check(self, px):
        if not self.online and self.sent and px.buffer_size() == 0:
            self.online = True
            print("%s: readings reach %s" % (ONLINE, self.gateway))

    def error(self, e):
        if isinstance(e, AuthenticationError):
            if not self.auth_reported:
                self.auth_reported = True
                print("plexus: the gateway refused the API key; readings stay on flash. "
                      "Fix it with `plexus deploy --key plx_...`")
        else:
            print("plexus: %s" % e)


def run_loop(cfg, px, wifi, sensors, led, dog):
    progress = Progress(cfg["gateway_url"])
    interval_ms = int(cfg["interval_s"] * 1000)
    next_read = time.ticks_ms()
    while True:
        dog.feed()
        now = time.ticks_ms()
        if time.ticks_diff(now, next_read) >= 0:
            progress.cycle(px, send_readings(px, sensors, led))
            next_read = time.ticks_add(next_read, interval_ms)
            if time.ticks_diff(now, next_read) > 0:  # fell behind: no burst
                next_read = time.ticks_add(now, interval_ms)
        if wifi.check():
            try:
                px.poll()
            except PlexusError as e:
                progress.error(e)
            progress.check(px)
        time.sleep_ms(50)


def sleep_cycle(cfg, px, wifi, sensors, led, dog):
    """Deep-sleep mode: one reading per wake, kept on flash; go online only
    once sync_min_points readings wait, then sleep again."""
    send_readings(px, sensors, led)
    waiting = px.buffer_size()
    if waiting >= cfg["sync_min_points"] and wifi.wait(30000, dog):
        deadline = time.ticks_add(time.ticks_ms(), 30000)
        while px.buffer_size() and time.ticks_diff(deadline, time.ticks_ms()) > 0:
            dog.feed()
            try:
                px.poll()
            except PlexusError as e:
                print("plexus: %s" % e)
                break
            time.sleep_ms(20)
        print("plexus: synced, %d readings still waiting on flash" % px.buffer_size())
        if not px.buffer_size():
            print("%s: readings reach %s" % (ONLINE, cfg["gateway_url"]))
    else:
        print("plexus: %d readings waiting on flash" % waiting)
    px.close()
    print("plexus: deep sleep for %d s" % cfg["deep_sleep_s"])
    dev.deep_sleep(int(cfg["deep_sleep_s"] * 1000))


def client(cfg):
    return Plexus(cfg["api_key"], cfg["source_id"], cfg["gateway_url"], ws_url=cfg["ws_url"] or None,
                  transport=cfg["transport"], store=cfg["store"])


def main():
    try:
        cfg = dev.load_config()
    except dev.ConfigError as e:
        print("plexus: config problem: %s" % e)
        return
    led = dev.StatusLed(cfg["led_pin"])
    dog = dev.Watchdog(cfg["watchdog_s"])
    wifi = dev.Wifi(cfg["wifi_ssid"], cfg["wifi_password"], led, random01)
    sensors = dev.Sensors(wifi)
    dev.make_dirs(cfg["store"])
    print("plexus: source_id %s, gateway %s, every %s s" % (cfg["source_id"], cfg["gateway_url"],
                                                           cfg["deep_sleep_s"] or cfg["interval_s"]))
    try:
        if cfg["deep_sleep_s"]:
            while True:  # on a board deep sleep resets; elsewhere it returns
                sleep_cycle(cfg, client(cfg), wifi, sensors, led, dog)
        else:
            if wifi.wlan is not None:
                wifi.wait(15000, dog)
            run_loop(cfg, client(cfg), wifi, sensors, led, dog)
    except KeyboardInterrupt:
        dog.keep_fed()
        print("plexus: stopped by Ctrl-C; readings not yet sent stay on flash")


main()
