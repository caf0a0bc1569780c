"""`plexus gateway`: run the local gateway, and manage its API keys.

    plexus gateway [--host 127.0.0.1] [--port 8080] [--db PATH] [--tls-cert PEM --tls-key PEM]
                   [--source-rate N] [--source-burst N] [--no-rate-limits] [--profile NAME]
                   [--retention 30d] [--max-queued-points N] [--workers N]
    plexus gateway keys create [--db PATH] [--create] [--name N] [--scope write,read,commands] [--source ID]
    plexus gateway keys list [--db PATH]
    plexus gateway keys revoke ID_OR_NAME [--db PATH]
    plexus gateway migrate --from gateway.db --to postgresql://user@host/db

Every command also takes --store postgresql://user@host/db (or the
PLEXUS_GATEWAY_STORE variable) to keep everything in PostgreSQL instead of
the SQLite file, so several gateways can share it (docs/scale.md).
"""

import argparse
import csv
import json
import os
import sys

from plexus.gateway.profile import PROFILES

DEFAULT_DB = os.path.join("~", ".plexus", "gateway.db")


def _db(args):
    return _store_url(args) or os.path.expanduser(args.db)


def _open_db(args, for_keys):
    """The database path after checking it, or None when a message was printed."""
    from plexus.gateway import db
    path = _db(args)
    if _store_url(args):
        return path  # PostgreSQL: the store itself says, at start, when it cannot be reached
    try:
        db.check(path, may_create=not for_keys or getattr(args, "create", False) or
                 path == os.path.expanduser(DEFAULT_DB), make_dir=path == os.path.expanduser(DEFAULT_DB))
    except db.DatabaseProblem as e:
        print("error: %s" % e, file=sys.stderr)
        return None
    return path


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
    add_retention(p)
    p.add_argument("--max-queued-points", type=int, default=None, metavar="N",
                   help="points waiting for the store before device sockets are paused and /ingest answers "
                        "503 (default 50000)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes sharing the port (default: one per core with --store, which "
                        "coordinates them; 1 on the SQLite file, which cannot)")
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
    c.add_argument("--create", action="store_true",
                   help="create the database if it does not exist (else a mistyped --db is refused)")
    c.set_defaults(func=keys_create)
    ls = ksub.add_parser("list", help="list keys (hints only; keys are stored as hashes)")
    _add_db(ls)
    fmt = ls.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    fmt.add_argument("--csv", action="store_true", help="comma-separated rows with a header line")
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
        print("error: the local gateway needs aiohttp: pip install aiohttp rich", file=sys.stderr)
        return 2
    from plexus.gateway import server
    from plexus.gateway.ratelimit import Limits

    if args.max_queued_points is not None and args.max_queued_points < 1:
        print("error: --max-queued-points must be at least 1", file=sys.stderr)
        return 2
    from plexus.gateway import workers
    on_postgres = bool(_store_url(args))
    if args.workers is None:
        args.workers = 1 if os.environ.get(workers.WORKER_ENV) == "1" else workers.default_workers(on_postgres)
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    if os.environ.get(workers.WORKER_ENV) == "1" and not workers.follow_supervisor():
        return 1  # the supervisor that started this worker is gone
    refused = workers.workers_refused(args.workers, on_postgres)
    if refused:
        print("error: " + refused, file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("error: give both --tls-cert and --tls-key, or neither", file=sys.stderr)
        return 2
    try:
        ctx = server.tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    except (OSError, ValueError) as e:
        print("error: cannot load the TLS certificate or key: %s" % e, file=sys.stderr)
        return 2
    path = _open_db(args, for_keys=False)
    if path is None:
        return 2
    retention = start_retention(args, path)
    try:
        profile = PROFILES[args.profile]
        limits = Limits.off() if args.no_rate_limits else Limits(
            source_burst=args.source_burst, source_rate=args.source_rate,
            source_min_interval=1.0 / args.source_rate if profile.silent_source_limit and args.source_rate > 0
            else None)
        if args.workers > 1:
            problem = on_postgres and workers.store_problem(path)
            if problem:
                print("error: %s" % problem, file=sys.stderr)
                return 1
            return workers.supervise(args.workers, args.host, args.port, workers.worker_argv(args),
                                     _store_url(args))
        return server.run(args.host, args.port, path, limits, ctx, profile, args.max_queued_points,
                          reuse_port=os.environ.get(workers.WORKER_ENV) == "1")
    except OSError as e:
        print("error: cannot listen on %s:%d: %s" % (args.host, args.port, e.strerror or e), file=sys.stderr)
        return 1
    finally:
        if retention is not None:
            retention.stop()


def add_retention(p):
    p.add_argument("--retention", metavar="AGE", type=parse_age,
                   help="delete readings and events older than AGE (e.g. 30d, 12h), checked "
                        "at start and then every --retention-every (default: keep everything)")
    p.add_argument("--retention-every", metavar="S", type=float, default=3600.0, help=argparse.SUPPRESS)


AGE_UNITS_MS = {"m": 60000, "h": 3600000, "d": 86400000, "w": 7 * 86400000}


def parse_age(text):
    n, unit = text[:-1], text[-1:]
    if not (n.isdigit() and int(n) > 0 and unit in AGE_UNITS_MS):
        raise argparse.ArgumentTypeError("%r must be a whole number and a unit: 90m, 12h, 30d or 8w" % text)
    return int(n) * AGE_UNITS_MS[unit]


def start_retention(args, path):
    if not getattr(args, "retention", None):
        return None
    print("retention: deleting readings and events older than %s" % _age_text(args.retention),
          file=sys.stderr)
    if _store_url(args):
        from plexus.gateway.pg.retention import PgRetention
        return PgRetention(path, args.retention, args.retention_every).start()
    from plexus.gateway.sqlite.retention import Retention
    return Retention(path, args.retention, args.retention_every).start()


def _age_text(ms):
    for unit, size in (("w", AGE_UNITS_MS["w"]), ("d", 86400000), ("h", 3600000)):
        if ms % size == 0:
            return "%d%s" % (ms // size, unit)
    return "%dm" % (ms // 60000)


def _where(args):
    from plexus.gateway.storage import redact_url
    return redact_url(_db(args))


def _conn(args):
    from plexus.gateway import db
    path = _open_db(args, for_keys=True)
    return None if path is None else db.connect(path)


def keys_create(args):
    from plexus.gateway import keys
    problem = key_request_problem(args)
    if problem:  # said before the database is looked at
        print("error: %s" % problem, file=sys.stderr)
        return 2
    if _store_url(args):
        key = _keys_on_store(args, "create")
    else:
        conn = _conn(args)
        if conn is None:
            return 2
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


def key_request_problem(args):
    from plexus.gateway import keys
    from plexus_core.source_id import source_id_error
    try:
        keys.parse_scopes(args.scope)
    except ValueError as e:
        return str(e)
    if args.source is not None and source_id_error(args.source):
        from plexus.cli.common import source_id_hint
        hint = source_id_hint(args.source)
        return source_id_error(args.source) + ("; did you mean --source %s?" % hint if hint else "")
    return None


def keys_list(args):
    from plexus.gateway import keys
    if _store_url(args):
        rows = _keys_on_store(args, "list")
    else:
        conn = _conn(args)
        if conn is None:
            return 2
        rows = keys.listing(conn)
        conn.close()
    if args.json or args.csv:
        return print_keys(rows, args.json)
    if not rows:
        print("no keys; create one with: plexus gateway keys create")
    else:
        print("%-4s %-20s %-14s %-22s %-10s %s" % ("id", "name", "hint", "scopes", "state", "source"))
    for r in rows:
        state = "revoked" if r["revoked_ms"] else "active"
        print("%-4d %-20s %-14s %-22s %-10s %s" % (r["id"], r["name"], r["hint"], r["scopes"], state,
                                                 r["source_id"] or "any source"))
    return 0


KEY_COLUMNS = ("id", "name", "hint", "scopes", "state", "source")


def print_keys(rows, as_json):
    table = [(r["id"], r["name"], r["hint"], r["scopes"], "revoked" if r["revoked_ms"] else "active",
              r["source_id"] or "") for r in rows]
    if as_json:
        print(json.dumps([dict(zip(KEY_COLUMNS, t)) for t in table], indent=2))
    else:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(KEY_COLUMNS)
        w.writerows(table)
    return 0


def keys_revoke(args):
    from plexus.gateway import keys
    if _store_url(args):
        n = _keys_on_store(args, "revoke")
    else:
        conn = _conn(args)
        if conn is None:
            return 2
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
