"""`plexus init | whoami | logout`: the API key and gateway this computer uses.

The key is saved to ~/.plexus/config.json (mode 0600) and never printed in
full; exit codes and output as for every command (plexus.cli.common).
"""

import getpass
import subprocess
import sys

from plexus.cli.common import (OK, PROBLEM, REJECTED, UNREACHABLE, Context, NotSetUp, add_command,
                               add_common_options, checked_source_id, data_api_url, mask, replace_key_hint)
from plexus.config import DEFAULT_GATEWAY_URL, ConfigError, config_path, env_setting, load_config, save_config
from plexus.data_client import ApiError, DataClient, KeyRejected, Unreachable, source_path


def register(sub):
    p = add_command(sub, "init", cmd_init, "save an API key and gateway URL to ~/.plexus/config.json",
                    "Save an API key and the gateway URL to ~/.plexus/config.json (mode 0600). "
                    "The key comes from --key (`--key -` reads it from stdin), PLEXUS_API_KEY, or a "
                    "prompt; with --create-key it is created on a local gateway from its database.")
    add_common_options(p)
    p.add_argument("--key", help="API key (plx_...); '-' reads it from stdin")
    p.add_argument("--create-key", action="store_true", help="create a key on the local gateway (needs --db)")
    p.add_argument("--db", metavar="PATH", help="the local gateway's database (for --create-key)")
    p.add_argument("--name", default=None, help="name of the created key (default cli-<host>)")
    p.add_argument("--source-id", help="default source id for `plexus send`")
    p.add_argument("--force", action="store_true", help="replace a key already saved")
    p.add_argument("--no-verify", action="store_true", help="save without asking the gateway")

    p = add_command(sub, "whoami", cmd_whoami, "show the saved key and check it against the gateway",
                    "Show which key and gateway are configured and ask the gateway about the key: "
                    "valid (exit 0), rejected (exit 3) or unreachable (exit 4).")
    add_common_options(p)
    p.add_argument("--no-verify", action="store_true", help="do not ask the gateway")

    p = add_command(sub, "logout", cmd_logout, "forget the saved API key")
    add_common_options(p, gateway=False)


def _read_key(args):
    if args.create_key:
        if not args.db:
            raise ValueError("--create-key needs --db PATH, the local gateway's database")
        return create_local_key(args.db, args.name or default_key_name())
    if args.key == "-":
        return sys.stdin.readline().strip()
    if args.key:
        return args.key.strip()
    if env_setting("PLEXUS_API_KEY"):
        return env_setting("PLEXUS_API_KEY")
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
    gateway = (args.gateway or env_setting("PLEXUS_GATEWAY_URL") or cfg.get("gateway_url") or DEFAULT_GATEWAY_URL).rstrip("/")
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
        ctx_api = env_setting("PLEXUS_API_URL") or cfg.get("api_url") or data_api_url(gateway)
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
        if env_setting("PLEXUS_API_KEY"):
            out.line("PLEXUS_API_KEY is still set in this environment.", style="yellow")
    return OK
