"""`plexus gateway`: run the local gateway, and manage its API keys.

    plexus gateway [--host 127.0.0.1] [--port 8080] [--db PATH] [--tls-cert PEM --tls-key PEM]
                   [--source-rate N] [--source-burst N] [--no-rate-limits] [--profile NAME]
    plexus gateway keys create [--db PATH] [--name N] [--scope write,read,commands] [--source ID]
    plexus gateway keys list [--db PATH]
    plexus gateway keys revoke ID_OR_NAME [--db PATH]
"""

import argparse
import os
import sys

from plexus.gateway.profile import PROFILES

DEFAULT_DB = os.path.join("~", ".plexus", "gateway.db")


def _db(args):
    return os.path.expanduser(args.db)


def _add_db(p):
    p.add_argument("--db", default=DEFAULT_DB, help="SQLite database file (default %s)" % DEFAULT_DB)


def register(subparsers):
    p = subparsers.add_parser("gateway", help="run a local Plexus gateway, manage its keys", allow_abbrev=False,
                              description="Run a local Plexus gateway (device protocol, Data API, dashboard) "
                                          "in the foreground. Stop it with Ctrl-C.")
    configure(p)
    return p


def configure(p):
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    _add_db(p)
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS/WSS with this certificate (chain) file")
    p.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    p.add_argument("--source-rate", type=float, default=2000, metavar="N",
                   help="telemetry messages per second one source may send, WebSocket and HTTP together "
                        "(default 2000; in the hosted-2026-08 profile a message sooner than 1/N s after the "
                        "source's previous one is dropped)")
    p.add_argument("--source-burst", type=float, default=500, metavar="N",
                   help="messages a source may send at once above --source-rate (default 500)")
    p.add_argument("--no-rate-limits", action="store_true",
                   help="switch off every message rate limit (for benchmarks)")
    p.add_argument("--profile", default="default", choices=sorted(PROFILES),
                   help="device-side behaviour: default (docs/protocol.md), or hosted-2026-08 to behave like "
                        "the hosted gateway of August 2026 (no acks, no clock sync, no batch dedup, no goodbye, "
                        "typed_command only, silent 0.5 ms per-source drop)")
    p.set_defaults(func=run_gateway)
    sub = p.add_subparsers(dest="gateway_command", metavar="{keys}")
    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    ksub = keys.add_subparsers(dest="keys_command", metavar="{create,list,revoke}")
    ksub.required = True
    c = ksub.add_parser("create", help="create a key; it is printed once, on the last line")
    _add_db(c)
    c.add_argument("--name", default=None, help="a label to tell keys apart")
    c.add_argument("--scope", default="write,read,commands",
                   help="comma-separated scopes: write (send data), read (Data API), commands")
    c.add_argument("--source", default=None, help="limit the key to this source_id")
    c.set_defaults(func=keys_create)
    ls = ksub.add_parser("list", help="list keys (hints only; keys are stored as hashes)")
    _add_db(ls)
    ls.set_defaults(func=keys_list)
    r = ksub.add_parser("revoke", help="revoke a key by id or name")
    _add_db(r)
    r.add_argument("key", help="the key's id or name (from `keys list`)")
    r.set_defaults(func=keys_revoke)


def run_gateway(args):
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        print("error: the local gateway needs aiohttp: pip install 'plexus-sdk[gateway]'", file=sys.stderr)
        return 2
    from plexus.gateway import server
    from plexus.gateway.ratelimit import Limits

    if bool(args.tls_cert) != bool(args.tls_key):
        print("error: give both --tls-cert and --tls-key, or neither", file=sys.stderr)
        return 2
    try:
        ctx = server.tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    except (OSError, ValueError) as e:
        print("error: cannot load the TLS certificate or key: %s" % e, file=sys.stderr)
        return 2
    try:
        profile = PROFILES[args.profile]
        limits = Limits.off() if args.no_rate_limits else Limits(
            source_burst=args.source_burst, source_rate=args.source_rate,
            source_min_interval=1.0 / args.source_rate if profile.silent_source_limit and args.source_rate > 0
            else None)
        return server.run(args.host, args.port, _db(args), limits, ctx, profile)
    except OSError as e:
        print("error: cannot listen on %s:%d: %s" % (args.host, args.port, e.strerror or e), file=sys.stderr)
        return 1


def _conn(args):
    from plexus.gateway import db
    return db.connect(_db(args))


def keys_create(args):
    from plexus.gateway import keys
    conn = _conn(args)
    try:
        key = keys.create(conn, args.name, args.scope, args.source)
    except ValueError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    finally:
        conn.close()
    limited = " for source %s" % args.source if args.source else ""
    print("created key %r (%s)%s in %s; it is shown only now:" % (args.name or "key", args.scope, limited, _db(args)),
          file=sys.stderr)
    print(key)
    return 0


def keys_list(args):
    from plexus.gateway import keys
    conn = _conn(args)
    rows = keys.listing(conn)
    conn.close()
    if not rows:
        print("no keys; create one with: plexus gateway keys create")
    for r in rows:
        state = "revoked" if r["revoked_ms"] else "active"
        print("%-4d %-20s %-14s %-22s %-10s %s" % (r["id"], r["name"], r["hint"], r["scopes"], state,
                                                 r["source_id"] or "any source"))
    return 0


def keys_revoke(args):
    from plexus.gateway import keys
    conn = _conn(args)
    n = keys.revoke(conn, args.key)
    conn.close()
    if not n:
        print("error: no active key with id or name %r" % args.key, file=sys.stderr)
        return 1
    print("revoked %d key(s)" % n)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m plexus.gateway", description=__doc__.split("\n\n")[0],
                                allow_abbrev=False)
    configure(p)
    args = p.parse_args(argv)
    return args.func(args)
