"""What every `plexus` command shares: exit codes, output, errors and settings.

Exit codes (the same for every command; `plexus deploy` adds 5, see its help):
  0 done   1 a problem was found (not set up, doctor failed, nothing arrived)
  2 usage error   3 the gateway rejected the key   4 the gateway is unreachable
  5 (deploy) the board runs but the gateway acknowledged none of its readings
  130 interrupted (Ctrl-C)

Output is rich tables and messages when `rich` is installed (the `cli`
extra), plain text otherwise, `--json` on every command and `--csv` on every
command that reads data, for scripts. Settings come from the command line,
then the environment (PLEXUS_API_KEY, PLEXUS_GATEWAY_URL, PLEXUS_API_URL),
then ~/.plexus/config.json (or $PLEXUS_CONFIG_DIR/config.json). The key is
never printed in full.
"""

import argparse
import csv
import datetime
import json
import sys

from plexus.config import DEFAULT_GATEWAY_URL, ConfigError, config_path, env_setting, load_config
from plexus.data_client import ApiError, DataClient, KeyRejected, Unreachable

OK, PROBLEM, USAGE, REJECTED, UNREACHABLE, NOT_ACKNOWLEDGED, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130
EXIT_CODES = ("exit codes: 0 done, 1 a problem was found, 2 usage error, "
              "3 the gateway rejected the key, 4 the gateway is unreachable, 130 interrupted")
HOSTED_API_URL = "https://api.plexus.company"


class CommandError(Exception):
    """A problem the user can fix; the message says how, `code` is the exit status."""

    def __init__(self, message, code=PROBLEM):
        super().__init__(message)
        self.code = code


# -- output ------------------------------------------------------------------------------

def rich_console(stderr=False, **kw):
    """A rich Console, or None when rich is not installed."""
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(stderr=stderr, highlight=False, **kw)


class Out:
    """Tables and messages: rich when available, plain text otherwise, JSON on demand."""

    def __init__(self, as_csv=False):
        self.as_csv = as_csv
        self.console = rich_console(soft_wrap=True)
        self.err_console = rich_console(stderr=True, soft_wrap=True)

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

    def table(self, columns, rows, title=None):
        rows = [["" if c is None else str(c) for c in r] for r in rows]
        if self.as_csv:
            w = csv.writer(sys.stdout, lineterminator="\n")
            w.writerow(columns)
            w.writerows(rows)
            sys.stdout.flush()
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


def iso_utc(ms):
    """Epoch milliseconds as the Data API's ISO 8601 time: 2026-01-31T12:00:00.250Z."""
    return datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


# -- settings ----------------------------------------------------------------------------

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
        self.key = env_setting("PLEXUS_API_KEY") or cfg.get("api_key")
        self.key_from = "PLEXUS_API_KEY" if env_setting("PLEXUS_API_KEY") else (
            str(config_path()) if cfg.get("api_key") else None)
        gw = getattr(args, "gateway", None) or env_setting("PLEXUS_GATEWAY_URL") or cfg.get("gateway_url")
        self.gateway_custom = bool(gw)
        self.gateway = (gw or DEFAULT_GATEWAY_URL).rstrip("/")
        api = env_setting("PLEXUS_API_URL") or cfg.get("api_url")
        self.api_url = (api or data_api_url(self.gateway)).rstrip("/")
        self.timeout = getattr(args, "timeout", None) or 10.0

    def client(self):
        if not self.key:
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


def source_id_problem(text, flag):
    """What is wrong with `text` as a source id, with the valid one it is
    close to as a value for `flag`; None when it is valid."""
    from plexus_core.source_id import source_id_error
    err = source_id_error(text)
    if err is None:
        return None
    hint = source_id_hint(text)
    return err + ("; did you mean %s %s?" % (flag, hint) if hint else "")


def checked_source_id(text, flag):
    problem = source_id_problem(text, flag)
    if problem:
        raise ValueError("%s: %s" % (flag, problem))
    return text


class NotSetUp(Exception):
    def __str__(self):
        return ("no API key: run `plexus init --gateway URL --key plx_...` "
                "(or set PLEXUS_API_KEY)")


# -- commands ----------------------------------------------------------------------------

def handle_errors(fn):
    """Wrap a command fn(args, out): known failures become a clear message and an exit code."""

    def wrapped(args):
        out = Out(as_csv=getattr(args, "csv", False))
        try:
            return fn(args, out)
        except (ConfigError, NotSetUp) as e:
            out.error(str(e))
            return PROBLEM
        except KeyRejected as e:
            hint = "replace it with `plexus init --force --key plx_...`"
            if env_setting("PLEXUS_API_KEY"):
                hint = "it comes from PLEXUS_API_KEY: set that to a valid key or unset it"
            out.error(str(e) + "; check it with `plexus whoami`, " + hint)
            return REJECTED
        except Unreachable as e:
            out.error(str(e) + "; is the gateway running? `plexus doctor` checks the setup")
            return UNREACHABLE
        except ApiError as e:
            out.error(str(e))
            return REJECTED if e.status == 403 else PROBLEM
        except CommandError as e:
            out.error(str(e))
            return e.code
        except ValueError as e:
            out.error(str(e))
            return USAGE
    return wrapped


def add_command(sub, name, fn, help, description=None, epilog=EXIT_CODES):
    """A subcommand whose fn(args, out) runs through handle_errors."""
    p = sub.add_parser(name, help=help, description=description or help, epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=handle_errors(fn))
    return p


def add_common_options(p, gateway=True, reads=False):
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    if reads:
        fmt.add_argument("--csv", action="store_true", help="comma-separated rows with a header line")
    if gateway:
        p.add_argument("--gateway", metavar="URL", help="gateway URL (default: config, PLEXUS_GATEWAY_URL)")
        p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="network timeout in seconds")
