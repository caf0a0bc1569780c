# Runs inside the MicroPython unix interpreter at every boot of the emulated
# board (tools/board_emulator.py starts it with `micropython -i`): mounts the
# flash image at /, installs the board-like `machine` (and, when the emulator
# has a Wi-Fi network, `network`) modules, then runs boot.py and main.py like
# firmware does. When it returns, the interpreter's REPL is the board's REPL.
#
# argv: IMAGE BLOCK_SIZE CTL_FD MODE UID_HEX WIFI
#   MODE: power-on | hard | soft | raw | wdt | deepsleep  (raw: soft reset in raw
#   REPL, which skips main.py as firmware does)
#   WIFI: "-" for none, else "SSID:PASSWORD" of the one emulated access point
#
# The radio cannot run here, so `network.WLAN` is a stand-in: it joins the
# emulated access point when the credentials match and reports a fixed RSSI;
# traffic then uses the host's network.


def _startup():
    import sys
    import os
    import vfs
    import time
    import binascii

    image, block_size, ctl_fd, mode, uid_hex, wifi = sys.argv[1:7]
    block_size = int(block_size)
    ctl = open(int(ctl_fd), "w")  # events for the emulator: reset, sleep, watchdog

    def tell(line):
        ctl.write(line + "\n")  # unbuffered pipe write; flush() is EINVAL on a pipe

    def halt(line):
        tell(line)
        while True:  # the emulator stops this process
            time.sleep(1)

    class Flash:
        # NOR-like block device backed by the image file: erase sets 0xFF.
        def __init__(self, f, count):
            self.f = f
            self.count = count

        def readblocks(self, n, buf, off=0):
            self.f.seek(n * block_size + off)
            self.f.readinto(buf)

        def writeblocks(self, n, buf, off=None):
            self.f.seek(n * block_size + (off or 0))
            self.f.write(buf)

        def ioctl(self, op, arg):
            if op == 4:
                return self.count
            if op == 5:
                return block_size
            if op == 6:
                self.f.seek(arg * block_size)
                self.f.write(b"\xff" * block_size)
            return 0

    try:
        f = open(image, "r+b")
        f.seek(0, 2)
        bd = Flash(f, f.tell() // block_size)
        try:
            fs = vfs.VfsLfs2(bd)
        except OSError:
            print("[emulator] formatting the flash image (littlefs v2)")
            vfs.VfsLfs2.mkfs(bd)
            fs = vfs.VfsLfs2(bd)
        vfs.mount(fs, "/")
    except Exception as e:  # never fall through to a REPL on the host's files
        halt("fatal cannot mount %s: %r" % (image, e))
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]
    sys.argv[:] = []

    import machine as real_machine

    class Pin:
        OUT = 1
        IN = 0

        def __init__(self, pin_id, mode=-1, value=None):
            self.id = pin_id
            self._v = value or 0

        def value(self, v=None):
            if v is None:
                return self._v
            self._v = 1 if v else 0

        def on(self):
            self._v = 1

        def off(self):
            self._v = 0

        def toggle(self):
            self._v ^= 1

    class WDT:
        # The emulator enforces the timeout and restarts the board.
        def __init__(self, id=0, timeout=5000):
            tell("wdt %d" % timeout)

        def feed(self):
            tell("feed")

    class Machine:
        PWRON_RESET = 1
        HARD_RESET = 2
        WDT_RESET = 3
        DEEPSLEEP_RESET = 4
        SOFT_RESET = 5

    m = Machine()
    for name in dir(real_machine):
        if not name.startswith("_"):
            setattr(m, name, getattr(real_machine, name))
    cause = {"power-on": 1, "hard": 2, "wdt": 3, "deepsleep": 4}.get(mode, 5)
    uid = binascii.unhexlify(uid_hex)
    m.Pin = Pin
    m.WDT = WDT
    m.reset_cause = lambda: cause
    m.unique_id = lambda: uid
    m.freq = lambda *a: 240000000

    m.reset = lambda: halt("reset")
    m.deepsleep = lambda ms=0: halt("deepsleep %d" % ms)
    m.lightsleep = lambda ms=0: time.sleep_ms(ms)
    sys.modules["machine"] = m

    if wifi != "-":
        ap_ssid, ap_password = wifi.split(":", 1)

        class WLAN:
            # Stand-in radio (see above). status codes as on ESP32/RP2.
            def __init__(self, interface=0):
                self._active = False
                self._status = 1000  # STAT_IDLE
                self._joined = 0

            def active(self, on=None):
                if on is None:
                    return self._active
                self._active = bool(on)

            def connect(self, ssid=None, key=None, **kw):
                if not self._active:
                    raise OSError(5)
                if ssid != ap_ssid:
                    self._status = 201  # STAT_NO_AP_FOUND
                elif key != ap_password:
                    self._status = 202  # STAT_WRONG_PASSWORD
                else:
                    self._status = 1001  # STAT_CONNECTING, joined after ~200 ms
                    self._joined = time.ticks_add(time.ticks_ms(), 200)

            def status(self, param=None):
                if param == "rssi":
                    return -58
                if self._status == 1001 and time.ticks_diff(time.ticks_ms(), self._joined) >= 0:
                    self._status = 1010  # STAT_GOT_IP
                return self._status

            def isconnected(self):
                return self.status() == 1010

            def disconnect(self):
                self._status = 1000

            def ifconfig(self, *a):
                return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")

            def config(self, *a, **kw):
                if a and a[0] == "mac":
                    return uid
                return None

        class Network:
            STA_IF = 0
            AP_IF = 1
            STAT_IDLE = 1000
            STAT_CONNECTING = 1001
            STAT_WRONG_PASSWORD = 202
            STAT_NO_AP_FOUND = 201
            STAT_CONNECT_FAIL = 203
            STAT_GOT_IP = 1010

        net = Network()
        net.WLAN = WLAN
        net.hostname = lambda *a: "plexus-emulated"
        sys.modules["network"] = net

    def run(name):
        try:
            os.stat(name)
        except OSError:
            return
        try:
            with open(name) as src:
                code = compile(src.read(), name, "exec")
            exec(code, globals())
        except SystemExit:
            halt("soft")  # sys.exit() in boot/main soft-resets a board
        except BaseException as e:  # a board prints the traceback, then the REPL
            sys.print_exception(e)

    tell("ready")
    run("boot.py")
    if mode != "raw":
        run("main.py")
        tell("wdt 0")  # see board_emulator.py: the emulated watchdog stops with main.py


_startup()
del _startup
