"""Running code on the board: which MicroPython it has (asked over the raw
REPL), and after the soft reset that starts boot.py and main.py, their output
until the gateway acknowledges the board's readings (or time runs out, with
what to do)."""

import time

from plexus.cli.common import NOT_ACKNOWLEDGED, OK, PROBLEM, REJECTED, CommandError
from plexus.config import DEFAULT_GATEWAY_URL

MIN_MICROPYTHON = (1, 23)  # first with the vfs and tls modules and mpy v6.3
ONLINE = "plexus: online"  # printed by firmware/main.py once readings are acknowledged


def board_info(board):
    """The board's MicroPython, .mpy version, flash and free RAM, asked over the raw REPL."""
    board.exec("import sys, os, gc\n"
               "def _pxinfo():\n"
               " try:\n  s = os.statvfs('/')\n  fs = (s[0], s[0] * s[2], s[0] * s[3])\n"
               " except Exception:\n  fs = (4096, -1, -1)\n"
               " gc.collect()\n"
               " return (sys.implementation.name, tuple(sys.implementation.version[:3]),\n"
               "  getattr(sys.implementation, '_mpy', 0), sys.platform,\n"
               "  getattr(sys.implementation, '_machine', ''), fs, gc.mem_free())\n")
    name, version, mpy, platform, machine, fs, ram = board.eval("_pxinfo()")
    return {"name": name, "version": version, "mpy": (mpy & 0xFF, (mpy >> 8) & 3),
            "platform": platform, "machine": machine, "block": fs[0], "total": fs[1],
            "free": fs[2], "ram": ram}


def check_board(info):
    if info["name"] != "micropython":
        raise CommandError("the board runs %s, not MicroPython: flash MicroPython %d.%d or newer "
                           "(https://micropython.org/download/)" % ((info["name"],) + MIN_MICROPYTHON))
    if tuple(info["version"][:2]) < MIN_MICROPYTHON:
        raise CommandError("the board runs MicroPython %s; Plexus needs %d.%d or newer. Flash a "
                           "current firmware from https://micropython.org/download/"
                           % ((".".join(str(v) for v in info["version"]),) + MIN_MICROPYTHON))


class Watch:
    """What the board's output said, for the verdict when time runs out."""

    def __init__(self):
        self.wifi_tries = 0
        self.wifi_last = None
        self.wifi_up = False
        self.key_refused = False
        self.errors = []

    def see(self, line):
        if line.startswith("wifi: connected"):
            self.wifi_up = True
        elif line.startswith("wifi: ") and ("retrying" in line or "failed" in line):
            self.wifi_tries += 1
            self.wifi_last = line
        elif "refused the API key" in line:
            self.key_refused = True
        elif line.startswith("plexus: ") and "readings taken" not in line and "source_id" not in line \
                and "waiting on flash" not in line:
            self.errors.append(line[len("plexus: "):])


def verdict(watch, cfg, seconds, port):
    """(exit code, what to do next) when no reading was acknowledged."""
    url = cfg.get("gateway_url", DEFAULT_GATEWAY_URL)
    if watch.key_refused:
        return REJECTED, ("the gateway at %s refused the board's API key: deploy again with "
                          "`plexus deploy --key plx_...` and a key that gateway knows" % url)
    if cfg.get("wifi_ssid") and not watch.wifi_up and watch.wifi_tries:
        return NOT_ACKNOWLEDGED, (
            "the board did not join Wi-Fi %r (it said: %s): check the network name and password "
            "and deploy again with `plexus deploy --wifi SSID:PASSWORD`" % (cfg["wifi_ssid"], watch.wifi_last))
    last = ("; the board said: %s" % watch.errors[-1]) if watch.errors else ""
    return NOT_ACKNOWLEDGED, (
        "the board is running, but the gateway at %s acknowledged none of its readings within "
        "%d s%s. Check that the board's network reaches it (a local gateway needs "
        "`plexus gateway --host 0.0.0.0`), then watch the board with `mpremote connect %s repl` "
        "or deploy again with a longer --tail" % (url, seconds, last, port))


def tail(board, seconds, say, cfg=None, warning=None):
    """Show the board's output after the reset: 0 once readings reach the
    gateway, 1 when main.py failed, 3 or 5 (with what to do) when time runs out."""
    cfg = cfg or {}
    if seconds <= 0:
        say("Not watching the board (--tail 0): check it with `plexus sources` or "
            "`mpremote connect %s repl`." % board.port)
        return OK
    until = time.monotonic() + seconds
    error = False
    watch = Watch()
    while True:
        try:
            line = board.read_line(until)
        except Exception:  # the port vanished: deep sleep or a USB reset
            say("The board disconnected (deep sleep or a reset); it keeps running. Check that its "
                "readings arrive with `plexus sources`.")
            return OK
        if line is None:
            break
        say("  board | " + line)
        watch.see(line)
        if line.startswith(ONLINE):
            say("Done: the board's readings reach the gateway.")
            return OK
        if watch.key_refused:  # the firmware says so once: nothing better will come
            break
        if line.startswith("Traceback (most recent call last)") or "config problem" in line:
            error = True
            until = min(until, time.monotonic() + 2)  # the rest of the traceback
        elif line.startswith(">>> "):
            break
    if error:
        say("Error: main.py stopped with the error above; fix it and deploy again.")
        return PROBLEM
    code, text = verdict(watch, cfg, seconds, board.port)
    say("Error: " + text + ".")
    if warning and code == NOT_ACKNOWLEDGED:
        say(warning)  # the likely cause, said again where it is read
    return code
