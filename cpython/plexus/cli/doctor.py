"""`plexus doctor`: check the config file, the key, the gateway, the clock and
the local buffers, and say what to fix."""

import glob
import os
import sqlite3
import time
import urllib.parse

from plexus.cli.account import WHOAMI_TEXT, check_key
from plexus.cli.common import OK, PROBLEM, Context, add_command, add_common_options, mask, replace_key_hint
from plexus.config import config_dir, config_path
from plexus.data_client import DataClient, Unreachable


def register(sub):
    p = add_command(sub, "doctor", cmd_doctor, "check the setup and say what to fix",
                    "Check the config file, the key, the gateway, the clock and the local buffers, "
                    "and say what to fix. Exit 1 when a check failed.")
    add_common_options(p)



def buffer_backlog():
    """[(file, readings waiting)] for the SQLite buffers in the config dir."""
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
