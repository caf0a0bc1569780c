"""`plexus init | whoami | logout | send | tail | query | events | sources | delete | doctor`.

Commands for people at a terminal: rich tables when `rich` is installed (the
`cli` extra), plain text otherwise, `--json` on every command and `--csv` on
every command that reads data, for scripts. Settings come from the command
line, then the environment (PLEXUS_API_KEY, PLEXUS_GATEWAY_URL, PLEXUS_API_URL),
then ~/.plexus/config.json (or $PLEXUS_CONFIG_DIR/config.json). The key is
never printed in full.

Exit codes (the same for every command):
  0 done   1 a problem was found (not set up, doctor failed, nothing arrived)
  2 usage error   3 the gateway rejected the key   4 the gateway is unreachable
  130 interrupted (Ctrl-C)
"""

import argparse
import csv
import datetime
import getpass
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.parse

from plexus.config import (DEFAULT_GATEWAY_URL, ConfigError, config_dir, config_path, load_config,
                           save_config)
from plexus.data_client import DataClient, KeyRejected, Unreachable, ApiError, follow, source_path

OK, PROBLEM, USAGE, REJECTED, UNREACHABLE = 0, 1, 2, 3, 4
EXIT_CODES = ("exit codes: 0 done, 1 a problem was found, 2 usage error, "
              "3 the gateway rejected the key, 4 the gateway is unreachable, 130 interrupted")
HOSTED_API_URL = "https://api.plexus.company"


# -- output ------------------------------------------------------------------------------

class Out:
    """Tables and messages: rich when available, plain text otherwise, JSON on demand."""

    def __init__(self, as_json=False, as_csv=False):
        self.as_json = as_json
        self.as_csv = as_csv
        try:
            from rich.console import Console
            self.console = Console(highlight=False, soft_wrap=True)
            self.err_console = Console(stderr=True, highlight=False, soft_wrap=True)
        except ImportError:
            self.console = self.err_console = None

    def json(self, data):
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")

    def line(self, text, style=None):
        if self.console is not None:
            self.console.print(text, style=style, markup=False)
        else:
            sys.stdout.write(text + "\n")

    def error(self, text):
        if self.err_console is not None:
            self.err_console.print("error: " + text, style="bold red", markup=False)
        else:
            sys.stderr.write("error: " + text + "\n")

    def csv_rows(self, columns, rows):
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        w.writerows(rows)
        sys.stdout.flush()

    def table(self, columns, rows, title=None):
        rows = [["" if c is None else str(c) for c in r] for r in rows]
        if self.as_csv:
            self.csv_rows(columns, rows)
            return
        if self.console is not None:
            from rich.table import Table
            from rich.text import Text  # plain text: a value like 'x[gateway]' is not markup
            t = Table(title=Text(title) if title else None, header_style="bold")
            for c in columns:
                t.add_column(c)
            for r in rows:
                t.add_row(*[Text(v) for v in r])
            self.console.print(t)
            return
        widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
        if title:
            sys.stdout.write(title + "\n")
        for r in [columns] + rows:
            sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")


def mask(key):
    """plx_abcd…wxyz: enough to tell keys apart, never the key."""
    if not key:
        return None
    return key[:8] + "…" + key[-4:] if len(key) > 12 else "plx_…"


def fmt_time(ms):
    if ms is None:
        return "never"
    return datetime.datetime.fromtimestamp(ms / 1000).isoformat(sep=" ", timespec="milliseconds")


def fmt_value(v):
    if isinstance(v, float):
        return repr(round(v, 6))
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


# -- settings ----------------------------------------------------------------------------

def _env(name):
    v = os.environ.get(name, "").strip()
    return v or None


class Context:
    """Key, gateway and Data API URL for one command."""

    def __init__(self, args, strict=True):
        self.config_error = None
        try:
            cfg = load_config(strict=True)
        except ConfigError as e:  # named by every command; doctor reports it among its checks
            if strict:
                raise
            self.config_error, cfg = e, load_config()
        self.cfg = cfg
        self.key = _env("PLEXUS_API_KEY") or cfg.get("api_key")
        self.key_from = "PLEXUS_API_KEY" if _env("PLEXUS_API_KEY") else (
            str(config_path()) if cfg.get("api_key") else None)
        gw = getattr(args, "gateway", None) or _env("PLEXUS_GATEWAY_URL") or cfg.get("gateway_url")
        self.gateway_custom = bool(gw)
        self.gateway = (gw or DEFAULT_GATEWAY_URL).rstrip("/")
        api = _env("PLEXUS_API_URL") or cfg.get("api_url")
        self.api_url = (api or data_api_url(self.gateway)).rstrip("/")
        self.timeout = getattr(args, "timeout", None) or 10.0

    def client(self, need_key=True):
        if need_key and not self.key:
            raise NotSetUp()
        return DataClient(self.api_url, self.key, timeout=self.timeout)


def data_api_url(gateway):
    """The local gateway serves the Data API on its own port; the hosted one has its own host."""
    gateway = gateway.rstrip("/")
    return HOSTED_API_URL if gateway == DEFAULT_GATEWAY_URL else gateway


def replace_key_hint(ctx):
    """How to replace a key, which depends on where it came from."""
    if ctx.key_from == "PLEXUS_API_KEY":
        return ("the key comes from PLEXUS_API_KEY, which overrides the saved config: set it to a "
                "valid key, or unset it (`unset PLEXUS_API_KEY`) to use the one `plexus init` saved")
    return "replace it with `plexus init --force --key plx_...`"


def source_id_hint(text):
    """A valid source id close to `text` (Pump 07 -> pump-07), or None."""
    from plexus_core.source_id import source_id_error
    s = "".join(c if c.isalnum() or c in "._-" else "-" for c in text.strip().lower())
    s = s.lstrip("._-")
    return s if s and s != text and source_id_error(s) is None else None


def checked_source_id(text, flag):
    from plexus_core.source_id import source_id_error
    err = source_id_error(text)
    if err:
        hint = source_id_hint(text)
        raise ValueError("%s: %s%s" % (flag, err, "; did you mean %s %s?" % (flag, hint) if hint else ""))
    return text


class NotSetUp(Exception):
    def __str__(self):
        return ("no API key: run `plexus init --gateway URL --key plx_...` "
                "(or set PLEXUS_API_KEY)")


def run_command(fn):
    """Wrap a command: known failures become a clear message and an exit code."""

    def wrapped(args):
        out = Out(getattr(args, "json", False), getattr(args, "csv", False))
        try:
            return fn(args, out)
        except ConfigError as e:
            out.error(str(e))
            return PROBLEM
        except NotSetUp as e:
            out.error(str(e))
            return PROBLEM
        except KeyRejected as e:
            hint = "replace it with `plexus init --force --key plx_...`"
            if _env("PLEXUS_API_KEY"):
                hint = "it comes from PLEXUS_API_KEY: set that to a valid key or unset it"
            out.error(str(e) + "; check it with `plexus whoami`, " + hint)
            return REJECTED
        except Unreachable as e:
            out.error(str(e) + "; is the gateway running? `plexus doctor` checks the setup")
            return UNREACHABLE
        except ApiError as e:
            out.error(str(e))
            return REJECTED if e.status == 403 else PROBLEM
        except ValueError as e:
            out.error(str(e))
            return USAGE
    return wrapped


def _add_common(p, gateway=True, reads=False):
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    if reads:
        fmt.add_argument("--csv", action="store_true", help="comma-separated rows with a header line")
    if gateway:
        p.add_argument("--gateway", metavar="URL", help="gateway URL (default: config, PLEXUS_GATEWAY_URL)")
        p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="network timeout in seconds")


def register(sub):
    def add(name, fn, help, description=None):
        p = sub.add_parser(name, help=help, description=description or help, epilog=EXIT_CODES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=run_command(fn))
        return p

    p = add("init", cmd_init, "save an API key and gateway URL to ~/.plexus/config.json",
            "Save an API key and the gateway URL to ~/.plexus/config.json (mode 0600). "
            "The key comes from --key (`--key -` reads it from stdin), PLEXUS_API_KEY, or a "
            "prompt; with --create-key it is created on a local gateway from its database.")
    _add_common(p)
    p.add_argument("--key", help="API key (plx_...); '-' reads it from stdin")
    p.add_argument("--create-key", action="store_true", help="create a key on the local gateway (needs --db)")
    p.add_argument("--db", metavar="PATH", help="the local gateway's database (for --create-key)")
    p.add_argument("--name", default=None, help="name of the created key (default cli-<host>)")
    p.add_argument("--source-id", help="default source id for `plexus send`")
    p.add_argument("--force", action="store_true", help="replace a key already saved")
    p.add_argument("--no-verify", action="store_true", help="save without asking the gateway")

    p = add("whoami", cmd_whoami, "show the saved key and check it against the gateway",
            "Show which key and gateway are configured and ask the gateway about the key: "
            "valid (exit 0), rejected (exit 3) or unreachable (exit 4).")
    _add_common(p)
    p.add_argument("--no-verify", action="store_true", help="do not ask the gateway")

    p = add("logout", cmd_logout, "forget the saved API key")
    _add_common(p, gateway=False)

    p = add("send", cmd_send, "send one reading (a number) or event (anything else)",
            "Send one reading and wait until the gateway has stored it. VALUE is a number "
            "(a metric), true/false, a JSON object or array, or text (an event).")
    _add_common(p)
    p.add_argument("metric", help="metric name, e.g. coolant.temp_c")
    p.add_argument("value", help="21.5, true, '{\"from\":\"IDLE\"}' or text")
    p.add_argument("--tag", action="append", default=[], metavar="K=V", help="tag (repeatable)")
    p.add_argument("--source", metavar="ID", help="source id (default: config source_id)")
    p.add_argument("--event", action="store_true", help="send as an event even if VALUE is a number")
    p.add_argument("--timestamp", type=float, help="epoch seconds or ms (default: now)")

    p = add("tail", cmd_tail, "follow live readings",
            "Print readings and events as they arrive. SOURCE defaults to every source the key can read.")
    _add_common(p, reads=True)
    p.add_argument("source", nargs="?", default="*", help="source id (default: all)")
    p.add_argument("--metrics", metavar="A,B", help="only these metrics")
    p.add_argument("--count", type=int, metavar="N", help="stop after N readings")
    p.add_argument("--for", dest="duration", type=float, metavar="S", help="stop after S seconds")

    p = add("query", cmd_query, "stored readings and events of one source",
            "Stored readings of one source: raw for windows under 10 minutes, otherwise "
            "aggregated (min/avg/max/count per interval) unless --interval says otherwise. "
            "The source's events in the window are listed too (--no-events leaves them out).")
    _add_common(p, reads=True)
    p.add_argument("source", help="source id")
    p.add_argument("--metrics", metavar="A,B", help="only these metrics (default: all)")
    p.add_argument("--last", default=None, metavar="1h", help="window: <n>s, <n>m, <n>h, <n>d or <n>w (default 1h)")
    p.add_argument("--no-events", dest="events", action="store_false", default=True,
                   help="readings only")
    p.add_argument("--start", metavar="ISO", help="window start (ISO 8601, with --end)")
    p.add_argument("--end", metavar="ISO", help="window end (ISO 8601, with --start)")
    p.add_argument("--interval", choices=["raw", "1m", "10m", "1h", "1d"], help="resolution")

    p = add("sources", cmd_sources, "list sources and whether they are online")
    _add_common(p, reads=True)

    p = add("events", cmd_events, "stored events of one source (--follow for new ones)",
            "Events of one source (anything sent that is not a number: state changes, log "
            "lines, JSON), oldest first. --follow keeps printing new ones as they arrive.")
    _add_common(p, reads=True)
    p.add_argument("source", help="source id")
    p.add_argument("--last", default=None, metavar="1h", help="window: <n>s, <n>m, <n>h, <n>d or <n>w (default 1h)")
    p.add_argument("--name", help="only events with this name")
    p.add_argument("--limit", type=int, default=1000, metavar="N", help="at most N events (default 1000)")
    p.add_argument("--follow", action="store_true", help="then print new events until Ctrl-C")
    p.add_argument("--for", dest="duration", type=float, metavar="S", help="with --follow: stop after S seconds")

    p = add("delete", cmd_delete, "delete every stored reading and event of one source",
            "Delete everything the gateway stored for one source: readings, events and the "
            "source itself (it reappears if the device sends again). Needs a key with the "
            "write scope; asks for the source id unless --yes.")
    _add_common(p)
    p.add_argument("source", help="source id")
    p.add_argument("--yes", action="store_true", help="do not ask")

    p = add("doctor", cmd_doctor, "check the setup and say what to fix",
            "Check the config file, the key, the gateway, the clock and the local buffers, "
            "and say what to fix. Exit 1 when a check failed.")
    _add_common(p)


# -- init / whoami / logout ------------------------------------------------------------------

def _read_key(args):
    if args.create_key:
        if not args.db:
            raise ValueError("--create-key needs --db PATH, the local gateway's database")
        return create_local_key(args.db, args.name or default_key_name())
    if args.key == "-":
        return sys.stdin.readline().strip()
    if args.key:
        return args.key.strip()
    if _env("PLEXUS_API_KEY"):
        return _env("PLEXUS_API_KEY")
    if sys.stdin.isatty():
        return getpass.getpass("API key (plx_...): ").strip()
    raise ValueError("no key given: pass --key plx_... (or --key - to read it from stdin), "
                     "or --create-key --db PATH for a local gateway")


def default_key_name():
    import socket
    host = socket.gethostname().split(".")[0].lower().replace(" ", "-") or "host"
    return "cli-" + host


def create_local_key(db, name):
    """Create a key in a local gateway's database with `python -m plexus.gateway keys create`."""
    r = subprocess.run([sys.executable, "-m", "plexus.gateway", "keys", "create", "--db", str(db),
                        "--name", name], capture_output=True, text=True, timeout=60)
    lines = [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]
    if r.returncode != 0 or not lines or not lines[-1].startswith("plx_"):
        raise ValueError("could not create a key in %s: %s" % (db, (r.stderr or r.stdout).strip()[-300:]))
    return lines[-1]


def check_key(client):
    """'valid', 'no-read' (valid, lacks the read scope), 'rejected' or 'unreachable'."""
    try:
        client.request("GET", "/v1/sources")
        return "valid"
    except KeyRejected:
        return "rejected"
    except Unreachable:
        return "unreachable"
    except ApiError as e:
        return "no-read" if e.status == 403 else "error %d" % e.status


def key_problem(key):
    """What is wrong with something given as an API key, or None."""
    if not key:
        return "the key is empty: copy the whole key, plx_ and all"
    if not key.startswith("plx_"):
        return "that is not an API key: Plexus keys start with plx_"
    if any(c.isspace() for c in key):
        return "the key has a space or line break in it: copy it again as one word"
    if len(key) < MIN_KEY_LEN:
        return ("that key is %d characters long, too short for a Plexus key (plx_ and at least "
                "%d more; a local gateway's are plx_ and 48): copy the whole key"
                % (len(key), MIN_KEY_LEN - 4))
    return None


MIN_KEY_LEN = 16


def cmd_init(args, out):
    try:
        cfg = load_config(strict=True)
    except ConfigError as e:
        if not args.force:
            raise ConfigError(str(e) + "; or replace the whole file with `plexus init --force`") from None
        cfg = load_config()
    if cfg.get("api_key") and not args.force:
        out.error("a key is already saved in %s (%s); use --force to replace it"
                  % (config_path(), mask(cfg["api_key"])))
        return PROBLEM
    gateway = (args.gateway or _env("PLEXUS_GATEWAY_URL") or cfg.get("gateway_url") or DEFAULT_GATEWAY_URL).rstrip("/")
    if args.create_key and gateway == DEFAULT_GATEWAY_URL:
        raise ValueError("--create-key works with a local gateway: pass its URL with --gateway "
                         "(keys for the hosted gateway come from app.plexus.company)")
    if not gateway.startswith(("http://", "https://")):
        raise ValueError("--gateway %r must start with http:// or https://" % gateway)
    key = _read_key(args)
    if key_problem(key):
        raise ValueError(key_problem(key))
    status = "unchecked"
    if not args.no_verify:
        ctx_api = _env("PLEXUS_API_URL") or cfg.get("api_url") or data_api_url(gateway)
        status = check_key(DataClient(ctx_api, key, timeout=args.timeout))
        if status == "rejected":
            out.error("the gateway at %s rejected this key; nothing was saved" % gateway)
            return REJECTED
    cfg["api_key"] = key
    cfg["gateway_url"] = gateway
    if args.source_id:
        cfg["source_id"] = checked_source_id(args.source_id, "--source-id")
    save_config(cfg)
    result = {"saved": str(config_path()), "key": mask(key), "gateway_url": gateway, "key_status": status}
    if args.json:
        out.json(result)
    else:
        out.line("Saved key %s and gateway %s to %s" % (mask(key), gateway, config_path()), style="green")
        if status == "unreachable":
            out.line("The gateway could not be reached, so the key is not checked yet: "
                     "run `plexus whoami` once it is up.", style="yellow")
        elif status == "no-read":
            out.line("The key is valid but cannot read data (no read scope): "
                     "`plexus send` works, `tail`/`query` will not.", style="yellow")
    return OK


WHOAMI_TEXT = {
    "valid": "valid: the gateway accepts this key",
    "no-read": "valid, but without the read scope (it can send, not read)",
    "rejected": "REJECTED: the gateway does not accept this key",
    "unreachable": "unknown: the gateway cannot be reached",
    "unchecked": "not checked (--no-verify)",
}


ANY_SOURCE_PROBE = "plexus-cli-probe-no-such-source"


def source_limit(client):
    """None when the key may use any source; else the source it is limited
    to, or "?" when the gateway does not say which. A key limited to one
    source is refused (403) for a source nobody has (others get 404)."""
    try:
        client.request("GET", source_path(ANY_SOURCE_PROBE))
        return None
    except ApiError as e:
        if e.status != 403 or "scope" in str(e).lower():  # a key without read cannot tell
            return None
    except (Unreachable, KeyRejected):
        return None
    try:
        mine = [d.get("source_id") for d in client.sources()]
    except (ApiError, Unreachable, KeyRejected):
        mine = []
    return mine[0] if len(mine) == 1 else "?"


def limit_text(limit):
    if limit == "?":
        return "this key is limited to one source (it has sent nothing yet, so its name is unknown here)"
    return "this key is limited to source %s" % limit


def cmd_whoami(args, out):
    ctx = Context(args)
    if not ctx.key:
        raise NotSetUp()
    status = "unchecked" if args.no_verify else check_key(ctx.client())
    limit = source_limit(ctx.client()) if status in ("valid", "no-read") else None
    info = {"key": mask(ctx.key), "key_from": ctx.key_from, "gateway_url": ctx.gateway,
            "api_url": ctx.api_url, "source_id": ctx.cfg.get("source_id"), "status": status,
            "limited_to_source": limit}
    if args.json:
        out.json(info)
    else:
        out.line("key:      %s  (from %s)" % (info["key"], ctx.key_from))
        out.line("gateway:  %s" % ctx.gateway)
        if ctx.api_url != ctx.gateway:
            out.line("data api: %s" % ctx.api_url)
        if info["source_id"]:
            out.line("source:   %s" % info["source_id"])
        style = {"valid": "green", "rejected": "red", "unreachable": "yellow"}.get(status)
        out.line("status:   " + WHOAMI_TEXT.get(status, status), style=style)
        if limit:
            out.line("limit:    " + limit_text(limit))
        if status == "rejected":
            out.line("fix:      " + replace_key_hint(ctx))
    return {"rejected": REJECTED, "unreachable": UNREACHABLE}.get(status, OK)


def cmd_logout(args, out):
    cfg = load_config(strict=True)
    had = bool(cfg.get("api_key"))
    if had:
        cfg["api_key"] = None
        save_config(cfg)
    if args.json:
        out.json({"logged_out": had})
    else:
        out.line("Forgot the saved key." if had else "No key was saved.")
        if _env("PLEXUS_API_KEY"):
            out.line("PLEXUS_API_KEY is still set in this environment.", style="yellow")
    return OK


# -- send ------------------------------------------------------------------------------------

def parse_value(text):
    """'21.5' -> 21.5, 'true' -> True, '{...}'/'[...]' -> JSON, anything else -> text."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    if t[:1] in ("{", "["):
        try:
            return json.loads(t)
        except ValueError as e:
            raise ValueError("VALUE looks like JSON but does not parse: %s" % e) from None
    try:
        n = int(t)
    except ValueError:
        try:
            n = float(t)
        except ValueError:
            return text
    if isinstance(n, float) and not math.isfinite(n):
        raise ValueError("VALUE must be a finite number (got %s)" % t)
    return n


def parse_tags(items):
    tags = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ValueError("--tag %r must look like key=value" % item)
        tags[k] = v
    return tags or None


def cmd_send(args, out):
    from plexus import Plexus
    from plexus_core.errors import AuthenticationError, PlexusError

    ctx = Context(args)
    if not ctx.key:
        raise NotSetUp()
    value = parse_value(args.value)
    tags = parse_tags(args.tag)
    source = args.source or ctx.cfg.get("source_id")
    if source:
        checked_source_id(source, "--source" if args.source else "source_id in %s" % config_path())
    # An in-memory buffer: the command reports failure instead of leaving the
    # reading in a file no one may ever drain, and never competes for the
    # buffer of a device program running with the same source id.
    px = Plexus(api_key=ctx.key, source_id=source, gateway_url=ctx.gateway, transport="http",
                persistent_buffer=False, timeout=ctx.timeout)
    try:
        px.send(args.metric, value, timestamp=args.timestamp, tags=tags,
                data_class="event" if args.event else None)
        try:
            done = px.flush_buffer(timeout=ctx.timeout)
        except AuthenticationError:
            limit = source_limit(ctx.client())
            if limit:
                out.error("the key may not send as %s: %s; pass --source %s or use a key without "
                          "a source limit" % (px.source_id, limit_text(limit),
                                              limit if limit != "?" else "ITS-SOURCE"))
                return REJECTED
            raise KeyRejected("the gateway at %s rejected the API key" % ctx.gateway) from None
        except PlexusError as e:
            out.error("the gateway refused the reading: %s" % e)
            return PROBLEM
    finally:
        px.close()
    if not done:
        try:  # say why: a closed port fails at once, long before the timeout
            DataClient(ctx.gateway, timeout=min(ctx.timeout, 5)).request("GET", "/health", check=False)
        except Unreachable as e:
            raise Unreachable("%s; the reading was not sent" % e) from None
        raise Unreachable("the gateway at %s answers but did not confirm the reading within %g s "
                          "(not stored)" % (ctx.gateway, ctx.timeout))
    if args.json:
        out.json({"sent": True, "source_id": px.source_id, "metric": args.metric, "value": value})
    else:
        out.line("sent %s = %s from %s" % (args.metric, fmt_value(value), px.source_id), style="green")
    return OK


# -- tail ------------------------------------------------------------------------------------

def cmd_tail(args, out):
    ctx = Context(args)
    client = ctx.client()
    base = "/v1/sources/*" if args.source == "*" else source_path(args.source)
    # Readings come on the metrics stream, events on the logs stream: follow both.
    paths = [base + "/metrics/stream", base + "/logs/stream"]
    if args.metrics:
        paths = [paths[0] + "?" + urllib.parse.urlencode({"metrics": args.metrics}),
                 paths[1] + "?" + urllib.parse.urlencode({"names": args.metrics})]
    wanted = set(m for m in (args.metrics or "").split(",") if m)
    stop = threading.Event()
    seen = [0]
    lock = threading.Lock()
    writer = csv.writer(sys.stdout, lineterminator="\n") if args.csv else None
    if writer:
        writer.writerow(LIVE_COLUMNS)

    def on_frame(frame):
        points = frame.get("points") if frame.get("type") == "telemetry" else (
            [frame] if frame.get("type") == "event" else [])
        for p in points or []:
            if not isinstance(p, dict) or (wanted and p.get("metric") not in wanted):
                continue
            with lock:
                if stop.is_set():
                    return
                seen[0] += 1
                if args.json:
                    sys.stdout.write(json.dumps(p, sort_keys=True) + "\n")
                elif writer:
                    writer.writerow(live_row(p, args.source))
                else:
                    tags = p.get("tags")
                    out.line("%s  %-16s %-24s %s%s" % (
                        fmt_time(p.get("timestamp")), p.get("source_id", args.source),
                        p.get("metric"), fmt_value(p.get("value")),
                        "  " + json.dumps(tags, sort_keys=True) if tags else ""))
                sys.stdout.flush()
                if args.count and seen[0] >= args.count:
                    stop.set()

    followers = [follow(client, path, on_frame, stop) for path in paths]
    ready_by = time.monotonic() + ctx.timeout
    while not stop.is_set() and time.monotonic() < ready_by and \
            not all(ready.is_set() for _, ready, _ in followers):
        stop.wait(0.05)
    if all(ready.is_set() for _, ready, _ in followers):  # on stderr: stdout stays data
        sys.stderr.write("following %s (Ctrl-C to stop)\n" % ("every source" if args.source == "*" else args.source))
        sys.stderr.flush()
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while not stop.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            stop.wait(0.5 if left is None else min(0.5, left))
    finally:
        stop.set()
        for thread, _, _ in followers:
            thread.join(2.0)
    for _, _, errors in followers:
        if errors:
            raise errors[0]
    return OK if seen[0] or not (args.count or args.duration) else PROBLEM


LIVE_COLUMNS = ["time", "source", "metric", "value", "tags"]


def live_row(p, source):
    tags = p.get("tags")
    return [fmt_time(p.get("timestamp")), p.get("source_id", source), p.get("metric"),
            fmt_value(p.get("value")), json.dumps(tags, sort_keys=True) if tags else ""]


# -- query / sources ---------------------------------------------------------------------------

WINDOW_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def window_query(last, start=None, end=None):
    """{last} or {start, end} for the Data API. Gateways take m, h and d;
    seconds and weeks become an explicit start and end."""
    if start or end:
        if not (start and end):
            raise ValueError("--start and --end go together (or use --last)")
        return {"start": start, "end": end}
    if not last:
        return {}
    n, unit = last[:-1], last[-1:]
    if not (n.isdigit() and int(n) > 0 and unit in WINDOW_UNITS_S):
        raise ValueError("--last %r must be a whole number and a unit: 90s, 10m, 1h, 7d or 2w" % last)
    if unit in ("m", "h", "d"):
        return {"last": last}
    now = datetime.datetime.now(datetime.timezone.utc)
    iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"  # noqa: E731
    return {"start": iso(now - datetime.timedelta(seconds=int(n) * WINDOW_UNITS_S[unit])), "end": iso(now)}


def unknown_source_hint(client, source):
    """A sentence for a source with nothing in the window: never seen, and
    which known sources look like it."""
    r = client.request("GET", source_path(source), check=False)
    if r.status != 404:
        return None
    try:
        known = [d.get("source_id") for d in client.sources()]
    except (ApiError, Unreachable):
        known = []
    near = [k for k in known if k and (k.lower() == source.lower() or source.lower() in k.lower())]
    text = "the gateway has never seen a source named %s; `plexus sources` lists the ones it has" % source
    if near:
        text += " (did you mean %s?)" % ", ".join(near[:3])
    return text

def cmd_query(args, out):
    ctx = Context(args)
    window = window_query(args.last, args.start, args.end)
    client = ctx.client()
    res = unseen_is_empty(lambda: client.query(args.source, metrics=args.metrics, interval=args.interval,
                                               **window), {})
    events = []
    if args.events and not args.metrics:
        events = unseen_is_empty(lambda: client.get(source_path(args.source, "/events"), limit=MAX_EVENTS,
                                                    **window), [])
    if args.json:
        res["events"] = events
        out.json(res)
        return OK
    series = res.get("series") or {}
    raw = res.get("interval", "raw") == "raw"
    rows = []
    for metric, col in sorted(series.items()):
        ts = col.get("timestamp_ms") or []
        for i, t in enumerate(ts):
            if raw:
                rows.append((t, metric, fmt_value(col["value"][i])))
            else:
                rows.append((t, metric, fmt_value(col["avg"][i]), fmt_value(col["min"][i]),
                             fmt_value(col["max"][i]), col["count"][i]))
    found = len(rows) + len(events)
    if raw:  # events belong in the same timeline
        rows += [(e.get("timestamp_ms"), e.get("metric"), fmt_value(e.get("value"))) for e in events]
    rows.sort(key=lambda r: (r[0] or 0, r[1] or ""))
    columns = ["time", "metric", "value"] if raw else ["time", "metric", "avg", "min", "max", "count"]
    title = "%s, %s%s" % (args.source, res.get("interval", "raw"),
                          " (downsampled)" if res.get("auto_downsampled") else "")
    if rows or args.csv or not events:
        out.table(columns, [(fmt_time(r[0]),) + tuple(r[1:]) for r in rows], title=title)
    if events and not raw and not args.csv:
        out.table(EVENT_COLUMNS, [event_row(e) for e in events], title="%s, events" % args.source)
    if args.csv:
        return OK if found else PROBLEM
    if res.get("truncated"):
        out.line("truncated at 10,000 rows: narrow the window or pick metrics", style="yellow")
    if not found:
        hint = unknown_source_hint(client, args.source)
        out.line("no readings in this window" + (": " + hint if hint else ""), style="yellow")
        return PROBLEM
    return OK


MAX_EVENTS = 1000
EVENT_COLUMNS = ["time", "name", "value", "tags"]


def event_row(e):
    tags = e.get("tags")
    return (fmt_time(e.get("timestamp_ms")), e.get("metric"), fmt_value(e.get("value")),
            json.dumps(tags, sort_keys=True) if tags else "")


def unseen_is_empty(call, empty):
    """The Data API answers 404 for a source it has never seen: for a read
    command that is no data, as for a quiet source (the hint comes after)."""
    try:
        return call() or empty
    except ApiError as e:
        if e.status != 404:
            raise
        return empty


def cmd_events(args, out):
    ctx = Context(args)
    if not 0 < args.limit <= 10000:
        raise ValueError("--limit must be from 1 to 10000")
    window = window_query(args.last)
    client = ctx.client()
    events = unseen_is_empty(lambda: client.get(source_path(args.source, "/events"), limit=args.limit,
                                                name=args.name, **window), [])
    if args.json:
        for e in events:
            sys.stdout.write(json.dumps(e, sort_keys=True) + "\n")
    else:
        out.table(EVENT_COLUMNS, [event_row(e) for e in events],
                  title=None if args.follow else "%s, events" % args.source)
    sys.stdout.flush()
    if args.follow:
        return follow_events(client, args, out, events)
    if not events and not args.csv:
        hint = unknown_source_hint(client, args.source)
        out.line("no events in this window" + (": " + hint if hint else ""), style="yellow")
        return PROBLEM
    return OK if events else PROBLEM


def follow_events(client, args, out, shown):
    """Print events from the live logs stream until Ctrl-C or --for."""
    stop = threading.Event()
    lock = threading.Lock()
    writer = csv.writer(sys.stdout, lineterminator="\n") if args.csv else None

    def on_frame(frame):
        if frame.get("type") != "event" or (args.name and frame.get("metric") != args.name):
            return
        e = {"timestamp_ms": frame.get("timestamp"), "metric": frame.get("metric"),
             "value": frame.get("value"), "tags": frame.get("tags") or {}}
        with lock:
            if args.json:
                sys.stdout.write(json.dumps(e, sort_keys=True) + "\n")
            elif writer:
                writer.writerow(event_row(e))
            else:
                out.line("  ".join(event_row(e)).rstrip())
            sys.stdout.flush()

    thread, ready, errors = follow(client, source_path(args.source, "/logs/stream"), on_frame, stop)
    ready.wait(client.timeout)
    if ready.is_set():  # on stderr: stdout stays data
        sys.stderr.write("following events of %s (Ctrl-C to stop)\n" % args.source)
        sys.stderr.flush()
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            stop.wait(0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic())))
    finally:
        stop.set()
        thread.join(2.0)
    if errors:
        raise errors[0]
    return OK


def cmd_delete(args, out):
    ctx = Context(args)
    source = args.source
    if not args.yes:
        if not sys.stdin.isatty():
            raise ValueError("deleting needs --yes when not at a terminal")
        typed = input("Delete every reading and event of %s on %s? Type the source id to confirm: "
                      % (source, ctx.api_url)).strip()
        if typed != source:
            out.error("not deleted: %r is not %r" % (typed, source))
            return PROBLEM
    res = ctx.client().request("DELETE", source_path(source, "/data")).data or {}
    if args.json:
        out.json(res)
    else:
        out.line("deleted %s: %d readings and events" % (source, res.get("deleted_points", 0)),
                 style="green")
    return OK


def cmd_sources(args, out):
    ctx = Context(args)
    devices = ctx.client().sources()
    if args.json:
        out.json(devices)
        return OK
    devices = sorted(devices, key=lambda d: (not d.get("online"), d.get("source_id", "")))
    out.table(["source", "state", "last seen"],
              [(d.get("source_id"), "online" if d.get("online") else "offline",
                fmt_time(d.get("last_seen_ms"))) for d in devices])
    if not devices and not args.csv:
        out.line("no source has sent anything yet: try `plexus send temp 21.5`")
    return OK


# -- doctor ----------------------------------------------------------------------------------

def buffer_backlog():
    """[(file, readings waiting)] for the SQLite buffers in the config dir."""
    import glob
    import sqlite3
    found = []
    for path in sorted(glob.glob(os.path.join(str(config_dir()), "buffer*.db"))):
        try:
            db = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(path), uri=True, timeout=2)
            try:
                names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                n = 0
                if "batches" in names:
                    n += db.execute("SELECT COALESCE(SUM(n), 0) FROM batches").fetchone()[0]
                if "points" in names:  # plexus-python's layout
                    n += db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            n = None
        found.append((path, n))
    return found


def doctor_checks(ctx):
    """Yields (check, level, message, fix) with level ok | warn | fail."""
    path = config_path()
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if ctx.config_error is not None:
            yield ("config", "fail", str(ctx.config_error).rsplit(": fix it", 1)[0],
                   "fix it, or replace it with `plexus init --force --gateway URL --key plx_...`")
        elif mode & 0o077:
            yield ("config", "warn", "%s is readable by others (mode %o)" % (path, mode),
                   "chmod 600 %s" % path)
        else:
            yield ("config", "ok", str(path), None)
    else:
        yield ("config", "warn" if ctx.key else "fail", "no config file at %s" % path,
               "run `plexus init --gateway URL --key plx_...`")

    if not ctx.key and ctx.config_error is not None:
        yield ("key", "fail", "no API key could be read (the config file is broken, see above)",
               "fix the config file")
    elif not ctx.key:
        yield ("key", "fail", "no API key", "run `plexus init` or set PLEXUS_API_KEY")
    elif not ctx.key.startswith("plx_"):
        yield ("key", "fail", "the key %s does not start with plx_" % mask(ctx.key), "run `plexus init --force`")
    else:
        yield ("key", "ok", "%s (from %s)" % (mask(ctx.key), ctx.key_from), None)

    host = urllib.parse.urlsplit(ctx.gateway).hostname or ""
    if ctx.gateway.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
        yield ("gateway", "warn", "%s is plain http: the key travels unencrypted" % ctx.gateway,
               "use https:// for a gateway on another machine")
    else:
        yield ("gateway", "ok", ctx.gateway + ("" if ctx.gateway_custom else " (default)"), None)

    client = DataClient(ctx.api_url, ctx.key, timeout=ctx.timeout)
    try:
        t0 = time.time()
        resp = DataClient(ctx.gateway, timeout=ctx.timeout).request("GET", "/health", check=False)
        t1 = time.time()
        reachable = True
        yield ("reachable", "ok" if resp.status < 500 else "fail",
               "%s answered %d in %.0f ms" % (ctx.gateway, resp.status, (t1 - t0) * 1000),
               None if resp.status < 500 else "the gateway is unhealthy: look at its log")
    except Unreachable as e:
        reachable = False
        yield ("reachable", "fail", str(e), "start the gateway (`plexus gateway`) or fix the URL with `plexus init --force`")

    if reachable and ctx.key:
        status = check_key(client)
        level = {"valid": "ok", "no-read": "warn"}.get(status, "fail")
        yield ("key accepted", level, WHOAMI_TEXT.get(status, status),
               None if level == "ok" else "create a key with write,read scopes; " + replace_key_hint(ctx))

    if reachable:
        server_ms = resp.server_time_ms()
        if server_ms is None:
            yield ("clock", "warn", "the gateway sent no Date header", None)
        else:
            # Date has 1 s resolution: compare with the middle of the request.
            skew = (t0 + t1) / 2 * 1000 - server_ms - 500
            level = "ok" if abs(skew) < 2000 else "warn"
            yield ("clock", level, "this machine is %+.1f s from the gateway" % (skew / 1000),
                   None if level == "ok" else "enable NTP (timedatectl set-ntp true); "
                   "clients correct their own readings, but logs and queries use local time")

    backlog = buffer_backlog()
    waiting = sum(n for _, n in backlog if n)
    unreadable = [p for p, n in backlog if n is None]
    if unreadable:
        yield ("buffer", "warn", "cannot read %s" % ", ".join(unreadable), "check the files' permissions")
    if waiting:
        files = ", ".join("%s (%d)" % (os.path.basename(p), n) for p, n in backlog if n)
        yield ("buffer", "warn", "%d readings waiting to be delivered: %s" % (waiting, files),
               "they go out when a client with that source id runs with a working key and gateway")
    elif not unreadable:
        yield ("buffer", "ok", "nothing waiting in %s" % config_dir(), None)


def cmd_doctor(args, out):
    ctx = Context(args, strict=False)
    checks = list(doctor_checks(ctx))
    failed = any(level == "fail" for _, level, _, _ in checks)
    if args.json:
        out.json({"ok": not failed, "checks": [{"check": c, "level": lv, "message": m, "fix": f}
                                               for c, lv, m, f in checks]})
        return PROBLEM if failed else OK
    marks = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red")}
    for check, level, message, fix in checks:
        mark, style = marks[level]
        out.line("%-4s  %-12s %s" % (mark, check, message), style=style)
        if fix:
            out.line("      %-12s fix: %s" % ("", fix))
    out.line("Something needs fixing (see above)." if failed else "All good.",
             style="red" if failed else "green")
    return PROBLEM if failed else OK
