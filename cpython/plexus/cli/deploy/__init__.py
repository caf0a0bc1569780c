"""`plexus deploy`: from a board on USB to readings on the dashboard in one
command.

Reads the board's MicroPython version, compiles the core to .mpy with the
mpy-cross that matches it, copies the core and the firmware (firmware/) with
mpremote, writes /plexus_config.json (the only place the API key goes), soft
resets the board and shows its first output until its readings reach the
gateway. The key and the Wi-Fi password are never printed.

Finding the board and talking to it: boards.py; what is copied: files.py;
running it and reading its output: repl.py.
"""

import json
import os
import ssl
import sys
import tempfile
import urllib.parse

from plexus.cli.account import check_key
from plexus.cli.common import PROBLEM, REJECTED, UNREACHABLE, CommandError, data_api_url, source_id_problem
from plexus.cli.deploy.boards import Board, choose_port, emulated_boards, list_boards
from plexus.cli.deploy.files import LIBRARY_DIRS, board_files, compile_mpy, plan_copy, remove_stale
from plexus.cli.deploy.repl import board_info, check_board, tail
from plexus.config import DEFAULT_GATEWAY_URL, ConfigError, config_path, load_config
from plexus.data_client import DataClient

CONFIG_PATH = "/plexus_config.json"
# What the exit codes of plexus.cli.common mean for `plexus deploy` (also in docs/firmware.md).
EXIT_CODES = ("exit codes: 0 the board's readings reach the gateway (or --tail 0: copied, not "
              "watched), 1 a problem was found (the message says what to do), 3 the gateway "
              "rejected the key, 4 the gateway is unreachable from this computer, 5 the board "
              "runs but the gateway acknowledged none of its readings in time, 130 interrupted")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


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
            raise CommandError("--wifi takes SSID:PASSWORD (an open network: SSID:)")
        new["wifi_ssid"], new["wifi_password"] = ssid, password
    key = args.key or os.environ.get("PLEXUS_API_KEY")
    if key:
        if not key.startswith("plx_") or any(c.isspace() for c in key):
            raise CommandError("that API key is malformed: Plexus keys start with plx_ and have no spaces")
        new["api_key"] = key
    if args.source_id:
        problem = source_id_problem(args.source_id, "--source-id")
        if problem:
            raise CommandError(problem)
        new["source_id"] = args.source_id
    gateway = args.gateway or os.environ.get("PLEXUS_GATEWAY_URL")
    if gateway:
        if not gateway.startswith(("http://", "https://")):
            raise CommandError("--gateway must be an http:// or https:// URL, e.g. https://gateway.plexus.company")
        new["gateway_url"] = gateway.rstrip("/")
    if args.interval is not None:
        if args.interval <= 0:
            raise CommandError("--interval must be more than 0 seconds")
        new["interval_s"] = args.interval
    if args.deep_sleep is not None:
        if args.deep_sleep < 0:
            raise CommandError("--deep-sleep must be 0 (off) or a number of seconds")
        new["deep_sleep_s"] = args.deep_sleep
    if args.ca:
        try:
            with open(args.ca, "rb") as f:
                ca = f.read()
        except OSError as e:
            raise CommandError("cannot read --ca %s: %s" % (args.ca, e.strerror or e))
        pem = ca.lstrip().startswith(b"-----BEGIN CERTIFICATE-----")
        if not pem and ca[:1] != b"\x30":
            raise CommandError("--ca %s is not a certificate (PEM or DER)" % args.ca)
        new["ca_file"] = CA_PATH + (".pem" if pem else ".der")
        new[_CA_BYTES] = ca
    return new


def saved_settings():
    """Key and gateway from ~/.plexus/config.json (`plexus init`), for a board
    that has none yet. A broken file is an error that names it."""
    try:
        cfg = load_config(strict=True)
    except ConfigError as e:
        raise CommandError(str(e)) from None
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
            origin[k] = str(config_path())
    ca = new.get(_CA_BYTES)
    cfg.update({k: v for k, v in new.items() if k != _CA_BYTES})
    for k in ("api_key", "gateway_url"):
        if k in new:
            origin[k] = "the command line"
    if ca is not None:
        cfg[_CA_BYTES] = ca
    if not cfg.get("api_key"):
        raise CommandError("no API key: pass --key plx_..., set PLEXUS_API_KEY, or save one with "
                           "`plexus init --gateway URL --key plx_...` (it is stored only in %s on the "
                           "board). Nothing was copied." % CONFIG_PATH)
    return cfg, origin


def loopback_warning(url, emulated):
    """The board's 127.0.0.1 is the board itself, not this computer."""
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
    url = cfg.get("gateway_url", DEFAULT_GATEWAY_URL)
    client = DataClient(data_api_url(url), cfg["api_key"], timeout=10)
    if ca and url.startswith("https://"):  # trust what the board will trust
        pem = ca.lstrip().startswith(b"-----BEGIN")
        client._tls = ssl.create_default_context(cadata=ca.decode("ascii", "replace") if pem else ca)
    status = check_key(client)
    if status == "rejected":
        raise CommandError("the gateway at %s rejects the API key (from %s). Create a key there "
                           "(`plexus gateway keys create` for a local gateway) and pass it with "
                           "--key. Nothing was copied." % (url, origin.get("api_key", "?")), REJECTED)
    if status == "unreachable":
        why = ""
        try:
            client.request("GET", "/health", check=False)
        except Exception as e:  # the reason, for the message
            why = str(e)
        if "CERTIFICATE_VERIFY_FAILED" in why:
            raise CommandError("cannot verify the certificate of %s from this computer: pass --ca FILE "
                               "with the root certificate that signed it (the board needs it too), or "
                               "deploy with --no-check. Nothing was copied." % url, UNREACHABLE)
        raise CommandError("cannot reach the gateway at %s from this computer (from %s). Start it "
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
    url = cfg.get("gateway_url", DEFAULT_GATEWAY_URL)
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
        info = board_info(board)
        check_board(info)
        free = "%d KiB flash free" % (info["free"] // 1024) if info["free"] >= 0 else "flash size unknown"
        say("Board: MicroPython %s on %s (%s), .mpy v%d.%d, %s, %d KiB RAM free" % (
            ".".join(str(v) for v in info["version"]), info["platform"], info["machine"],
            info["mpy"][0], info["mpy"][1], free, info["ram"] // 1024))
        cfg, origin = board_config(board, new, saved, say)
        say("API key from %s; gateway %s from %s" % (
            origin.get("api_key"), cfg.get("gateway_url", DEFAULT_GATEWAY_URL),
            origin.get("gateway_url", "the default (the hosted gateway)")))
        warning = loopback_warning(cfg.get("gateway_url", DEFAULT_GATEWAY_URL), emulated)
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
            raise CommandError("the board's flash is full: this deploy needs %d KiB, %d KiB are free. "
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


def cmd_deploy(args):
    wifi_password = args.wifi.partition(":")[2] if args.wifi else None
    say = Console([args.key, os.environ.get("PLEXUS_API_KEY"), wifi_password])
    if args.list:
        return list_boards(say)
    try:
        return deploy(args, say)
    except CommandError as e:
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
    p.set_defaults(func=cmd_deploy)
