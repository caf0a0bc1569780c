"""`plexus command SOURCE NAME [--param k=v ...] [--wait] [--json]`.

Sends a command to a connected device through the Data API (docs/protocol.md §8).
A command the device declared with `@px.command` (protocol v1) starts a run
(POST /v1/sources/{id}/runs; the device coerces the text values to the
declared types); any other goes the legacy way (POST /v1/sources/{id}/commands,
values parsed as numbers, booleans or JSON where they look like one). With
--wait it follows the run or command to its outcome.

Exit codes as for every command (plexus.cli.common): with --wait, 0 means
the device succeeded and 1 that it failed, the run expired, or no outcome
came in time; 1 also when the device is not connected, 3 when the key lacks
the `commands` scope.
"""

import time

from plexus.cli.common import OK, PROBLEM, Context, add_command, add_common_options, fmt_value
from plexus.cli.data import parse_value
from plexus.data_client import ApiError, KeyRejected, _error_text, source_path

FINAL = ("succeeded", "failed", "expired")
POLL_S = 0.2


def register(sub):
    p = add_command(sub, "command", cmd_command, "send a command to a device",
                    __doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("source", help="source id of the device")
    p.add_argument("name", help="command name")
    p.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="parameter (repeatable), e.g. --param valve=2")
    p.add_argument("--wait", action="store_true", help="wait for the outcome and print it")
    p.add_argument("--wait-timeout", type=float, default=60.0, metavar="S",
                   help="how long --wait waits (default 60 s)")
    p.add_argument("--ttl", type=float, metavar="S", help="run expiry in seconds (default: declared)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--legacy", action="store_true", help="send as a legacy command")
    kind.add_argument("--run", action="store_true", help="start a protocol v1 run even if not declared")
    add_common_options(p)


def parse_params(items, typed):
    params = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ValueError("--param %r must look like name=value" % item)
        params[k] = parse_value(v) if typed else v
    return params


def cmd_command(args, out):
    if args.ttl is not None and not 0 < args.ttl <= 86400:
        raise ValueError("--ttl must be a number of seconds from 0 to 86400")
    ctx = Context(args)
    client = ctx.client()
    v1 = args.run or (not args.legacy and args.name in declared(client, args.source))
    params = parse_params(args.param, typed=not v1)
    if v1:
        return start_run(client, args, params, out)
    return send_legacy(client, args, params, out)


def declared(client, source_id):
    """v1 command names the device declared (empty where the API does not say)."""
    r = client.request("GET", source_path(source_id), check=False)
    _check(r, client)
    if r.status != 200 or not isinstance(r.data, dict):
        return set()
    return {c.get("name") for c in r.data.get("commands") or [] if isinstance(c, dict)
            and isinstance(c.get("params", {}), dict)}


def _check(r, client):
    """401 and 403 end the command with their own exit code."""
    if r.status == 401:
        raise KeyRejected("the gateway at %s rejected the API key" % client.base_url)
    if r.status == 403:
        text = _error_text(r.data, None)
        raise ApiError(403, "the API key may not send commands (%s); it needs the "
                       "`commands` scope" % (text or "forbidden"))


def _post(client, path, body):
    r = client.request("POST", path, body=body, check=False)
    _check(r, client)
    return r


# -- protocol v1 runs -------------------------------------------------------------------

def start_run(client, args, params, out):
    body = {"command": args.name, "params": params}
    if args.ttl is not None:
        body["ttl_s"] = args.ttl
    r = _post(client, source_path(args.source, "/runs"), body)
    if r.status not in (200, 201) or not isinstance(r.data, dict) or "run_id" not in r.data:
        raise ApiError(r.status, "the gateway answered %d: %s" % (r.status, _error(r)))
    run_id = r.data["run_id"]
    if not args.wait:
        if args.json:
            out.json({"run_id": run_id, "command": args.name, "state": r.data.get("state")})
        else:
            out.line("run %s (%s on %s): %s" % (run_id, args.name, args.source, r.data.get("state")))
        return OK
    path = source_path(args.source, "/runs/" + run_id)
    deadline = time.monotonic() + args.wait_timeout
    shown = 0
    run = r.data
    while True:
        run = client.get(path)
        if not args.json:
            for s in run.get("statuses", [])[shown:]:
                out.line(describe_status(s))
            shown = len(run.get("statuses", []))
        if run.get("state") in FINAL or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)  # polling the Data API: it has no push for runs
    if args.json:
        out.json(run)
    elif run.get("state") not in FINAL:
        out.error("no outcome within %g s; the run is %s (run %s)"
                  % (args.wait_timeout, run.get("state"), run_id))
    elif run.get("state") == "expired":
        out.error("the run expired before the device answered (run %s)" % run_id)
    return OK if run.get("state") == "succeeded" else PROBLEM


def describe_status(s):
    state = s.get("state")
    if state == "progress":
        text = "progress %g%%" % s.get("progress", 0)
        return text + (" " + s["message"] if s.get("message") else "")
    if state == "succeeded":
        return "succeeded" + (": " + fmt_value(s["result"]) if s.get("result") not in (None, {}) else "")
    if state == "failed":
        return "failed (%s)%s" % (s.get("error_code") or "error",
                                  ": " + s["error_message"] if s.get("error_message") else "")
    return state or "?"


# -- legacy commands ---------------------------------------------------------------------

def send_legacy(client, args, params, out):
    r = _post(client, source_path(args.source, "/commands"), {"command": args.name, "params": params})
    queued = isinstance(r.data, dict) and r.data.get("queued") is True
    if r.status in (404, 409) or (r.status == 200 and not queued):
        out.error("%s is not connected; the command was not sent" % args.source)
        return PROBLEM
    if r.status != 200:
        raise ApiError(r.status, "the gateway answered %d: %s" % (r.status, _error(r)))
    cid = r.data.get("id")
    if not args.wait or not cid:  # the hosted API answers {"queued": true} only
        if args.json:
            out.json({"queued": True, "id": cid, "command": args.name})
        else:
            out.line("sent %s to %s%s" % (args.name, args.source, " (id %s)" % cid if cid else ""))
        return OK
    path = source_path(args.source, "/commands/" + cid)
    deadline = time.monotonic() + args.wait_timeout
    while True:
        cmd = client.get(path)
        done = [e for e in cmd.get("events", []) if e.get("event") in ("result", "error")]
        if done or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)  # polling the Data API: it has no push for commands
    if args.json:
        out.json(cmd)
    elif not done:
        out.error("no result within %g s (command %s)" % (args.wait_timeout, cid))
    elif done[0]["event"] == "result":
        out.line("result: %s" % fmt_value(done[0].get("result")))
    else:
        out.error("%s failed: %s" % (args.name, done[0].get("error")))
    return OK if done and done[0]["event"] == "result" else PROBLEM


def _error(r):
    return _error_text(r.data, "HTTP %d" % r.status)
