"""`plexus send | tail | query | events | sources | delete`: readings and events
through the gateway's Data API, as tables, `--json` or `--csv` (plexus.cli.common).
"""

import csv
import json
import math
import sys
import threading
import time
import urllib.parse

from plexus.cli.account import limit_text, source_limit
from plexus.cli.common import (OK, PROBLEM, REJECTED, Context, NotSetUp, add_command, add_common_options,
                               checked_source_id, fmt_time, fmt_value, iso_utc)
from plexus.config import config_path
from plexus.data_client import ApiError, DataClient, KeyRejected, Unreachable, follow, source_path


def register(sub):
    p = add_command(sub, "send", cmd_send, "send one reading (a number) or event (anything else)",
                    "Send one reading and wait until the gateway has stored it. VALUE is a number "
                    "(a metric), true/false, a JSON object or array, or text (an event).")
    add_common_options(p)
    p.add_argument("metric", help="metric name, e.g. coolant.temp_c")
    p.add_argument("value", help="21.5, true, '{\"from\":\"IDLE\"}' or text")
    p.add_argument("--tag", action="append", default=[], metavar="K=V", help="tag (repeatable)")
    p.add_argument("--source", metavar="ID", help="source id (default: config source_id)")
    p.add_argument("--event", action="store_true", help="send as an event even if VALUE is a number")
    p.add_argument("--timestamp", type=float, help="epoch seconds or ms (default: now)")

    p = add_command(sub, "tail", cmd_tail, "follow live readings",
                    "Print readings and events as they arrive. SOURCE defaults to every source the key can read.")
    add_common_options(p, reads=True)
    p.add_argument("source", nargs="?", default="*", help="source id (default: all)")
    p.add_argument("--metrics", metavar="A,B", help="only these metrics")
    p.add_argument("--count", type=int, metavar="N", help="stop after N readings")
    p.add_argument("--for", dest="duration", type=float, metavar="S", help="stop after S seconds")

    p = add_command(sub, "query", cmd_query, "stored readings and events of one source",
                    "Stored readings of one source: raw for windows under 10 minutes, otherwise "
                    "aggregated (min/avg/max/count per interval) unless --interval says otherwise. "
                    "The source's events in the window are listed too (--no-events leaves them out).")
    add_common_options(p, reads=True)
    p.add_argument("source", help="source id")
    p.add_argument("--metrics", metavar="A,B", help="only these metrics (default: all)")
    p.add_argument("--last", default=None, metavar="1h", help="window: <n>s, <n>m, <n>h, <n>d or <n>w (default 1h)")
    p.add_argument("--no-events", dest="events", action="store_false", default=True,
                   help="readings only")
    p.add_argument("--start", metavar="ISO", help="window start (ISO 8601, with --end)")
    p.add_argument("--end", metavar="ISO", help="window end (ISO 8601, with --start)")
    p.add_argument("--interval", choices=["raw", "1m", "10m", "1h", "1d"], help="resolution")

    p = add_command(sub, "sources", cmd_sources, "list sources and whether they are online")
    add_common_options(p, reads=True)

    p = add_command(sub, "events", cmd_events, "stored events of one source (--follow for new ones)",
                    "Events of one source (anything sent that is not a number: state changes, log "
                    "lines, JSON), oldest first. --follow keeps printing new ones as they arrive.")
    add_common_options(p, reads=True)
    p.add_argument("source", help="source id")
    p.add_argument("--last", default=None, metavar="1h", help="window: <n>s, <n>m, <n>h, <n>d or <n>w (default 1h)")
    p.add_argument("--name", help="only events with this name")
    p.add_argument("--limit", type=int, default=1000, metavar="N", help="at most N events (default 1000)")
    p.add_argument("--follow", action="store_true", help="then print new events until Ctrl-C")
    p.add_argument("--for", dest="duration", type=float, metavar="S", help="with --follow: stop after S seconds")

    p = add_command(sub, "delete", cmd_delete, "delete every stored reading and event of one source",
                    "Delete everything the gateway stored for one source: readings, events and the "
                    "source itself (it reappears if the device sends again). Needs a key with the "
                    "write scope; asks for the source id unless --yes.")
    add_common_options(p)
    p.add_argument("source", help="source id")
    p.add_argument("--yes", action="store_true", help="do not ask")


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
    try:
        wait_for_stop(stop, args.duration)
    finally:
        stop.set()
        for thread, _, _ in followers:
            thread.join(2.0)
    for _, _, errors in followers:
        if errors:
            raise errors[0]
    return OK if seen[0] or not (args.count or args.duration) else PROBLEM


def wait_for_stop(stop, duration):
    """Until `stop` is set (by --count or a failed stream), Ctrl-C, or `duration` seconds (None: no limit)."""
    deadline = time.monotonic() + duration if duration else None
    while not stop.is_set():
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        stop.wait(0.5 if left is None else min(0.5, left))


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
    now = int(time.time() * 1000)
    return {"start": iso_utc(now - int(n) * WINDOW_UNITS_S[unit] * 1000), "end": iso_utc(now)}


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
        return follow_events(client, args, out)
    if not events and not args.csv:
        hint = unknown_source_hint(client, args.source)
        out.line("no events in this window" + (": " + hint if hint else ""), style="yellow")
        return PROBLEM
    return OK if events else PROBLEM


def follow_events(client, args, out):
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
    try:
        wait_for_stop(stop, args.duration)
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
