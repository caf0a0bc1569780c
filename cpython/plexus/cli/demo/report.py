"""The demo's reckoning: what each device handed over against what the
gateway's Data API has stored (sent, stored, lost, duplicated), printed as a
table or as JSON."""

import collections
import json
import sys
import time

from plexus.cli.common import iso_utc
from plexus.data_client import source_path

def stored_readings(client, source_id, t_first, t_last):
    """Counter of (metric, timestamp) over every raw reading stored for the
    source in [t_first, t_last], read in time slices under the 10,000-row cap."""
    found = collections.Counter()
    todo = [(t_first, t_last + 1)]
    while todo:
        a, b = todo.pop()
        res = client.get(source_path(source_id, "/metrics/query"), start=iso_utc(max(0, a - 1)),
                         end=iso_utc(b + 1), interval="raw") or {}
        if res.get("truncated") and b - a > 1:
            mid = (a + b) // 2
            todo += [(a, mid), (mid, b)]
            continue
        for metric, col in (res.get("series") or {}).items():
            for t in col.get("timestamp_ms") or []:
                if a <= t < b:  # slices overlap by a millisecond: count each reading once
                    found[(metric, int(t))] += 1
    return found


def stored_events(client, source_id, t_first, t_last):
    found = collections.Counter()
    rows = client.get(source_path(source_id, "/events"), start=iso_utc(max(0, t_first - 1)),
                      end=iso_utc(t_last + 1), limit=10000) or []
    for r in rows:
        t = int(r.get("timestamp_ms", r.get("timestamp", -1)))
        if t_first <= t <= t_last:
            found[(r.get("metric"), t)] += 1
    return found


def reckon(sent_keys, found):
    """(sent, stored, lost, duplicated) from what was sent and what is stored."""
    sent = collections.Counter(sent_keys)
    lost = sum(1 for k in sent if found.get(k, 0) == 0)
    stored = sum(found.values())
    duplicated = sum(max(0, c - sent.get(k, 0)) for k, c in found.items())
    return len(sent_keys), stored, lost, duplicated


def report_for(client, dev):
    keys = [(m, t) for m, t, _ in dev.sent]
    ev_keys = list(dev.events)
    row = {"source_id": dev.source_id, "sent": 0, "stored": 0, "lost": 0, "duplicated": 0,
           "events_sent": 0, "events_stored": 0, "events_lost": 0, "events_duplicated": 0,
           "refused": dev.refused}
    if keys:
        ts = [t for _, t in keys]
        # The read side may trail the acknowledgement for a moment: look again before calling it lost.
        for attempt in range(10):
            found = stored_readings(client, dev.source_id, min(ts), max(ts))
            r = reckon(keys, found)
            if r[2] == 0:
                break
            time.sleep(0.5)
        row.update(zip(("sent", "stored", "lost", "duplicated"), r))
    if ev_keys:
        ts = [t for _, t in ev_keys]
        r = reckon(ev_keys, stored_events(client, dev.source_id, min(ts), max(ts)))
        row.update(zip(("events_sent", "events_stored", "events_lost", "events_duplicated"), r))
    return row


def report_for_board(client, board, timeout=60.0):
    """The board's readings carry the board's own timestamps: count distinct
    (metric, timestamp) pairs stored against the readings it accepted, and
    give its flash log time to drain."""
    sent = board.final - board.refused
    deadline = time.monotonic() + timeout
    while True:
        now = int(time.time() * 1000)
        found = stored_readings(client, board.source_id, board.started_ms - 60000, now + 60000)
        distinct, stored = len(found), sum(found.values())
        if distinct >= sent or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return {"source_id": board.source_id, "sent": sent, "stored": stored,
            "lost": max(0, sent - distinct), "duplicated": stored - distinct,
            "events_sent": 0, "events_stored": 0, "events_lost": 0, "events_duplicated": 0,
            "refused": board.refused, "drained": distinct >= sent}


def totals(rows):
    """(readings and events sent, lost, duplicated) over every device."""
    return (sum(r["sent"] + r["events_sent"] for r in rows),
            sum(r["lost"] + r["events_lost"] for r in rows),
            sum(r["duplicated"] + r["events_duplicated"] for r in rows))


def json_report(rows, restarts, url, note):
    _, lost, duplicated = totals(rows)
    sys.stdout.write(json.dumps({"devices": rows, "restarts": restarts, "dashboard": url + "/", "note": note,
                                 "lost": lost, "duplicated": duplicated}, indent=2) + "\n")


def print_report(console, rows, url, key_file, note, restarts, keep):
    from rich.markup import escape  # paths and notes may hold [brackets]
    from rich.table import Table
    from rich.text import Text
    t = Table(title="Readings, checked against the gateway's Data API", header_style="bold")
    for c in ("device", "sent", "stored", "lost", "duplicated", "events sent/stored"):
        t.add_column(c, justify="left" if c == "device" else "right")
    for r in rows:
        bad = lambda n: Text(str(n), "bold red" if n else "green")  # noqa: E731
        t.add_row(r["source_id"], str(r["sent"]), str(r["stored"]), bad(r["lost"]), bad(r["duplicated"]),
                  "%d/%d" % (r["events_sent"], r["events_stored"]))
    console.print(t)
    total, lost, dup = totals(rows)
    if lost or dup:
        console.print("[bold red]%d lost, %d duplicated[/] out of %d, across %d gateway restart(s)."
                      % (lost, dup, total, restarts))
    else:
        console.print("[bold green]All %d readings and events stored exactly once[/], across %d gateway "
                      "restart(s)." % (total, restarts))
    if note:
        console.print("[dim]%s[/]" % escape(note))
    if keep:
        console.print("Dashboard: [bold]%s/[/]  (log in with the key in %s)" % (escape(url), escape(str(key_file))))
        console.print("CLI: plexus init --gateway %s --key - < %s" % (escape(url), escape(str(key_file))))
        console.print("The gateway and devices keep running. Ctrl-C stops them.")
    else:
        console.print("Run [bold]plexus demo --keep[/] to keep the gateway running and open its dashboard.")
