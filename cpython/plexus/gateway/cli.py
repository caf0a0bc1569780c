"""`plexus gateway`: run the local gateway, and manage its API keys.

    plexus gateway [--host 127.0.0.1] [--port 8080] [--db PATH] [--tls-cert PEM --tls-key PEM]
                   [--source-rate N] [--source-burst N] [--no-rate-limits]
    plexus gateway keys create [--db PATH] [--name N] [--scope write,read,commands] [--source ID]
    plexus gateway keys list [--db PATH]
    plexus gateway keys revoke ID_OR_NAME [--db PATH]
    plexus gateway migrate --from gateway.db --to postgresql://user@host/db

Every command also takes --store postgresql://user@host/db (or the
PLEXUS_GATEWAY_STORE variable) to keep everything in PostgreSQL instead of
the SQLite file, so several gateways can share it (docs/scale.md).
"""

import argparse
import os
import sys

DEFAULT_DB = os.path.join("~", ".plexus", "gateway.db")


def _db(args):
    return _store_url(args) or os.path.expanduser(args.db)


def _add_db(p):
    p.add_argument("--db", default=DEFAULT_DB, help="SQLite database file (default %s)" % DEFAULT_DB)
    _add_store(p)


def _add_store(p):
    p.add_argument("--store", metavar="URL", default=None,
                   help="keep data, keys and runs in PostgreSQL instead of --db: postgresql://user@host/db "
                        "(default: $PLEXUS_GATEWAY_STORE)")


def _store_url(args):
    """The PostgreSQL URL from --store or PLEXUS_GATEWAY_STORE, or None for the SQLite file."""
    from plexus.gateway.storage import is_postgres_url
    url = getattr(args, "store", None) or os.environ.get("PLEXUS_GATEWAY_STORE") or None
    if url is not None and not is_postgres_url(url):
        raise SystemExit("error: --store must be a postgresql://user@host/db URL (got %r); "
                         "use --db for a SQLite file" % url.split("@")[-1])
    return url


def _keys_on_store(args, op):
    """`keys create|list|revoke` on the PostgreSQL store."""
    import asyncio

    from plexus.gateway.storage import StoreUnavailable, open_store

    async def run():
        store = open_store(_store_url(args))
        await store.open()
        try:
            if op == "create":
                return await store.create_key(args.name, args.scope, args.source)
            if op == "list":
                return await store.list_keys()
            return await store.revoke_key(args.key)
        finally:
            await store.aclose()
    try:
        return asyncio.run(run())
    except StoreUnavailable as e:
        raise SystemExit("error: %s" % e)
    except ValueError as e:
        raise SystemExit("error: %s" % e)


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
                        "(default 2000)")
    p.add_argument("--source-burst", type=float, default=500, metavar="N",
                   help="messages a source may send at once above --source-rate (default 500)")
    p.add_argument("--no-rate-limits", action="store_true",
                   help="switch off every message rate limit (for benchmarks)")
    p.set_defaults(func=run_gateway)
    sub = p.add_subparsers(dest="gateway_command", metavar="{keys,migrate}")
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
    _add_migrate(sub)


def _add_migrate(sub):
    m = sub.add_parser("migrate", help="move a local gateway's data, keys and runs into PostgreSQL",
                       description="Copy everything from a local gateway's SQLite file into PostgreSQL. Stop "
                                   "the gateway first. Interrupted? Run it again: it resumes.")
    m.add_argument("--from", dest="source", default=DEFAULT_DB, metavar="PATH",
                   help="the SQLite database file (default %s)" % DEFAULT_DB)
    m.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://user@host/db")
    m.set_defaults(func=migrate_store)


def migrate_store(args):
    import asyncio

    import asyncpg
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from plexus.gateway.storage import is_postgres_url, redact_url
    if not is_postgres_url(args.target):
        print("error: --to must be a postgresql://user@host/db URL", file=sys.stderr)
        return 2
    from plexus.gateway.pg.migrate import migrate
    source = os.path.expanduser(args.source)
    with Progress(TextColumn("points"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=False) as bar:
        task = bar.add_task("points", total=None)
        try:
            out = asyncio.run(migrate(source, args.target, lambda done, total: bar.update(task, completed=done,
                                                                                           total=total)))
        except FileNotFoundError as e:
            print("error: %s" % e, file=sys.stderr)
            return 2
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            print("error: cannot use PostgreSQL at %s: %s" % (redact_url(args.target), e), file=sys.stderr)
            return 1
    print("migrated %d points (%d in %s) with keys, sources, runs and commands to %s"
          % (out["points"], out["total"], source, redact_url(args.target)))
    return 0


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
        limits = Limits.off() if args.no_rate_limits else Limits(source_burst=args.source_burst,
                                                                 source_rate=args.source_rate)
        return server.run(args.host, args.port, _db(args), limits, ctx)
    except OSError as e:
        print("error: cannot listen on %s:%d: %s" % (args.host, args.port, e.strerror or e), file=sys.stderr)
        return 1


def _where(args):
    from plexus.gateway.storage import redact_url
    return redact_url(_db(args))


def _conn(args):
    from plexus.gateway import db
    return db.connect(_db(args))


def keys_create(args):
    from plexus.gateway import keys
    if _store_url(args):
        key = _keys_on_store(args, "create")
    else:
        conn = _conn(args)
        try:
            key = keys.create(conn, args.name, args.scope, args.source)
        except ValueError as e:
            print("error: %s" % e, file=sys.stderr)
            return 2
        finally:
            conn.close()
    limited = " for source %s" % args.source if args.source else ""
    print("created key %r (%s)%s in %s; it is shown only now:" % (args.name or "key", args.scope, limited,
                                                                   _where(args)), file=sys.stderr)
    print(key)
    return 0


def keys_list(args):
    from plexus.gateway import keys
    if _store_url(args):
        rows = _keys_on_store(args, "list")
    else:
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
    if _store_url(args):
        n = _keys_on_store(args, "revoke")
    else:
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
