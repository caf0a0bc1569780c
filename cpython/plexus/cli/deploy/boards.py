"""Finding the board to deploy to (USB serial ports, emulated boards) and
reaching it through mpremote's serial transport."""

import ast
import contextlib
import hashlib
import io
import json
import os
import tempfile
import time

from plexus.cli.common import OK, CommandError

CHUNK = 512  # bytes per write command: small enough for a board's heap
USB_VENDORS = {0x2E8A: "Raspberry Pi", 0x303A: "Espressif", 0xF055: "MicroPython",
               0x10C4: "CP210x USB-serial", 0x1A86: "CH340 USB-serial", 0x0403: "FTDI USB-serial"}


def emulator_dir():
    """Where tools/board_emulator.py announces running emulated boards."""
    return os.environ.get("PLEXUS_EMULATOR_DIR") or os.path.join(
        tempfile.gettempdir(), "plexus-emulators-%d" % getattr(os, "getuid", lambda: 0)())


def find_boards():
    """[(port, description)] of USB serial boards and running emulated boards."""
    boards = []
    try:
        from serial.tools import list_ports
    except ImportError:
        list_ports = None
    for p in sorted(list_ports.comports() if list_ports else [], key=lambda p: p.device):
        if p.vid is None:  # not USB: built-in UARTs are never a board
            continue
        maker = USB_VENDORS.get(p.vid, p.manufacturer or "USB serial")
        desc = "%s %04x:%04x %s" % (maker, p.vid, p.pid or 0, p.serial_number or "")
        boards.append((p.device, desc.strip()))
    return boards + emulated_boards()


def emulated_boards():
    """[(port, description)] of the emulated boards running on this computer."""
    boards = []
    d = emulator_dir()
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        try:
            with open(os.path.join(d, name)) as f:
                entry = json.load(f)
            os.kill(int(entry["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # gone or unreadable
        if os.path.exists(entry["port"]):
            boards.append((entry["port"], "%s, flash %s" % (entry.get("description", "emulated board"),
                                                         entry.get("image", "?"))))
    return boards


def choose_port(port, say):
    if port:
        if port.startswith("/") and not os.path.exists(port):  # COM3 on Windows is no path
            raise CommandError("no board at %s: that device does not exist. "
                               "`plexus deploy --list` shows connected boards." % port)
        return port
    boards = find_boards()
    if not boards:
        raise CommandError("no board found. Plug the board in over USB (a data cable, not a "
                           "charge-only one) or pass --port; `plexus deploy --list` shows what "
                           "is connected. No hardware? Try: python tools/board_emulator.py --image board.img")
    if len(boards) > 1:
        raise CommandError("%d boards found, pass --port with one of:\n%s" % (
            len(boards), "\n".join("  %s  %s" % b for b in boards)))
    say("Using %s (%s)" % boards[0])
    return boards[0][0]


def list_boards(say):
    boards = find_boards()
    if not boards:
        say("No boards found. Plug one in over USB, or start an emulated one:\n"
            "  python tools/board_emulator.py --image board.img")
        return OK
    for port, desc in boards:
        say("%-24s %s" % (port, desc))
    return OK


class Board:
    """One board reached through mpremote's serial transport."""

    def __init__(self, port, timeout):
        try:
            from mpremote.transport import TransportError
            from mpremote.transport_serial import SerialTransport
        except ImportError:
            raise CommandError("mpremote is not installed: pip install mpremote")
        self.TransportError = TransportError
        self.port = port
        self.timeout = timeout
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.t = SerialTransport(port, baudrate=115200)
            self.t.serial.timeout = timeout  # a silent port must not block a read forever
        except TransportError:
            raise CommandError("cannot open %s: another program may be using it (a serial "
                               "monitor, Thonny, another mpremote), or you lack permission "
                               "(on Linux: sudo usermod -aG dialout $USER, then log in again)" % port)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(Exception):
            self.t.close()

    def enter_repl(self):
        # No soft reset: main.py keeps the watchdog fed after Ctrl-C (see
        # firmware/lib/plexus_device.py), and a soft reset would stop that.
        for attempt in (1, 2):
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    self.t.enter_raw_repl(soft_reset=False, timeout_overall=self.timeout)
                return
            except self.TransportError:
                if attempt == 2:
                    raise CommandError(
                        "%s does not answer like a MicroPython board (no REPL within %d s). Is "
                        "MicroPython flashed on it (https://micropython.org/download/)? Is another "
                        "program using the port?" % (self.port, self.timeout))

    def exec(self, code):
        """Run code in the board's raw REPL; what it printed, as bytes."""
        return self.t.exec(code)

    def eval(self, expr):
        return ast.literal_eval(self.exec("print(repr(%s))" % expr).decode().strip())

    def listdir(self, path):
        """{name: (is_dir, size)}; empty when the directory is missing."""
        try:
            return {e.name: (bool(e.st_mode & 0x4000), e.st_size) for e in self.t.fs_listdir(path)}
        except OSError:
            return {}

    def mkdir(self, path):
        try:
            self.t.fs_mkdir(path)
        except OSError:
            pass  # exists

    def remove(self, path):
        with contextlib.suppress(OSError):
            self.t.fs_rmfile(path)

    def same(self, path, data):
        try:
            return self.t.fs_hashfile(path, "sha256") == hashlib.sha256(data).digest()
        except OSError:
            return False

    def write(self, path, data):
        try:
            self.t.fs_writefile(path, data, chunk_size=CHUNK)
        except OSError as e:
            if e.errno == 28:
                raise CommandError("the board's flash is full while writing %s: free space with "
                                   "`mpremote connect %s fs ls` and `fs rm`, then deploy again"
                                   % (path, self.port))
            raise CommandError("cannot write %s on the board: %s" % (path, e))

    def read(self, path):
        try:
            return bytes(self.t.fs_readfile(path))
        except OSError:
            return None

    def rename(self, old, new):
        self.exec("import os\nos.rename(%r, %r)" % (old, new))

    def reset_and_read(self):
        """Leave raw REPL and soft-reset from the normal REPL, which runs
        boot.py and main.py as at power-on."""
        self.t.exit_raw_repl()
        self.t.read_until(1, b">>> ", timeout=self.timeout)
        self.t.serial.write(b"\x04")

    def read_line(self, until):
        """One line of board output, or None when `until` passes first."""
        line = b""
        s = self.t.serial
        while time.monotonic() < until:
            s.timeout = max(0.05, min(0.5, until - time.monotonic()))
            c = s.read(1)
            if not c:
                if line.endswith(b">>> "):
                    return line.decode("utf-8", "replace")
                continue
            if c == b"\n":
                return line.rstrip(b"\r").decode("utf-8", "replace")
            line += c
        return line.decode("utf-8", "replace") if line else None
