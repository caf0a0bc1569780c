"""`plexus demo`: the whole product on one machine in under a minute.

Starts a local gateway (temporary SQLite, free port), creates a key, runs
simulated devices that send realistic signals through the real client,
restarts the gateway part-way, and then asks the gateway's Data API for
everything it stored. Every reading send() accepted is recorded by the device
that sent it (its metric and its timestamp, unique per device), so the final
table is exact: sent, stored, lost, duplicated. Exit status 1 if anything was
lost or stored twice.

The gateway process: gateway.py; the devices and the board: devices.py (the
board's program is board/main.py); the reckoning: report.py.
"""

import os
import shutil
import tempfile
import threading
import time

from plexus.cli.common import OK, PROBLEM, USAGE, Out, rich_console
from plexus.cli.demo.devices import BoardDevice, SimDevice, board_support
from plexus.cli.demo.gateway import LocalGateway
from plexus.cli.demo.report import json_report, print_report, report_for, report_for_board, totals
from plexus.data_client import DataClient


def register(sub):
    p = sub.add_parser(
        "demo", help="run a local gateway with simulated devices and check nothing is lost",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
        epilog="exit codes: 0 nothing lost, 1 readings lost or duplicated (or the demo failed), "
               "130 interrupted")
    p.add_argument("--seconds", type=float, default=20.0, help="how long the devices stream (default 20)")
    p.add_argument("--devices", type=int, default=3, help="simulated CPython devices (default 3)")
    p.add_argument("--rate", type=float, default=10.0, help="readings per second per metric (default 10)")
    p.add_argument("--keep", action="store_true",
                   help="after the report, keep the gateway and devices running for the dashboard (Ctrl-C stops)")
    p.add_argument("--json", action="store_true", help="print only the final report, as JSON")
    p.set_defaults(func=cmd_demo)


class Progress:
    """What the live view shows; rendered by rich a few times a second."""

    def __init__(self, gateway, devices, seconds):
        self.gateway = gateway
        self.devices = devices
        self.seconds = seconds
        self.phase = "starting"
        self.started = time.monotonic()
        self.restarts = 0

    def render(self):
        from rich.table import Table
        from rich.text import Text
        from rich.console import Group
        elapsed = min(self.seconds, time.monotonic() - self.started)
        head = Text.assemble(("plexus demo ", "bold"), "gateway %s  " % self.gateway.url,
                             (self.phase, "yellow" if "restart" in self.phase else "green"),
                             "  %.0f/%.0f s" % (elapsed, self.seconds))
        t = Table(header_style="bold", box=None, pad_edge=False)
        for c in ("device", "readings sent", "events", "waiting", "link"):
            t.add_column(c, justify="left" if c in ("device", "link") else "right")
        for d in self.devices:
            sent, events, waiting, link = d.status()
            t.add_row(d.source_id, str(sent), str(events), "-" if waiting is None else str(waiting),
                      Text(link, "green" if link in ("connected", "running") else "yellow"))
        return Group(head, t)


def cmd_demo(args):
    if args.seconds <= 0 or args.devices < 1 or args.rate <= 0:
        Out().error("--seconds, --devices and --rate must be positive")
        return USAGE
    console = rich_console(stderr=args.json)
    if console is None:
        Out().error("plexus demo needs rich: pip install rich")
        return PROBLEM
    from rich.live import Live
    # The live view shows each client's link; their own status lines would break it.
    os.environ["PLEXUS_QUIET"] = "1"
    work = tempfile.mkdtemp(prefix="plexus-demo-")
    gw = LocalGateway(os.path.join(work, "gateway.db"))
    devices = []
    try:
        gw.start()
        key = gw.create_key("demo")
        key_file = os.path.join(work, "api-key")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        buffers = os.path.join(work, "buffers")
        os.makedirs(buffers)
        sims = [SimDevice(i, gw.url, key, buffers, args.rate) for i in range(args.devices)]
        devices = list(sims)
        has_board, note = board_support()
        board = BoardDevice(args.devices, gw.url, key, work) if has_board else None
        if board is not None:
            devices.append(board)
        progress = Progress(gw, devices, args.seconds)
        for d in devices:
            d.start()
        restart_at = progress.started + args.seconds * 0.4
        end_at = progress.started + args.seconds
        with Live(get_renderable=progress.render, console=console, refresh_per_second=4,
                  transient=args.json, redirect_stderr=False):
            progress.phase = "streaming"
            while time.monotonic() < end_at:
                if progress.restarts == 0 and time.monotonic() >= restart_at:
                    progress.phase = "restarting the gateway (devices keep buffering)"
                    gw.restart()
                    progress.restarts += 1
                    progress.phase = "streaming (gateway restarted)"
                time.sleep(min(0.25, max(0.0, end_at - time.monotonic())))
            progress.phase = "stopping devices, waiting for the last acknowledgements"
            for d in devices:
                d.stop_sending()
            drained = _drain_all(sims, timeout=60.0)
            progress.phase = "checking with the Data API"
        console.print()
        for d in sims:
            d.close()
        client = DataClient(gw.url, key, timeout=30.0)
        rows = [report_for(client, d) for d in sims]
        for r, ok in zip(rows, drained):
            r["drained"] = ok
        if board is not None:
            rows.append(report_for_board(client, board))
        if args.json:
            json_report(rows, progress.restarts, gw.url, note)
        else:
            print_report(console, rows, gw.url, key_file, note, progress.restarts, args.keep)
        if args.keep:
            _keep_streaming(gw, key, buffers, args, board)
        _, lost, duplicated = totals(rows)
        return PROBLEM if lost or duplicated else OK
    except RuntimeError as e:
        from rich.markup import escape
        console.print("[bold red]error:[/] %s" % escape(str(e)))
        return PROBLEM
    finally:
        for d in devices:
            try:
                d.close()
            except Exception:
                pass  # already reporting something more useful
        gw.stop()
        shutil.rmtree(work, ignore_errors=True)


def _drain_all(devices, timeout):
    results = [False] * len(devices)

    def one(i, d):
        results[i] = d.drain(timeout)

    threads = [threading.Thread(target=one, args=(i, d), daemon=True) for i, d in enumerate(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    return results


def _keep_streaming(gw, key, buffers, args, board):
    """Stream on (fresh clients, same ids) until Ctrl-C, for the dashboard."""
    devices = [SimDevice(i, gw.url, key, buffers, args.rate) for i in range(args.devices)]
    for d in devices:
        d.start()
    if board is not None:
        board.resume()
    try:
        while gw.proc is not None and gw.proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for d in devices:
            d.close()
