"""The `plexus` command (also `python -m plexus.cli`). Each feature registers
its own subcommands.

A module listed in COMMAND_MODULES defines register(subparsers), adding
parsers that set `func` (called with the parsed args; its return value is the
exit status, one of plexus.cli.common's exit codes). Modules not installed in
this build are skipped.
"""

import argparse
import importlib

from plexus.cli.common import EXIT_CODES, INTERRUPTED, OK
from plexus_core import __version__

COMMAND_MODULES = [
    "plexus.cli.demo",        # plexus demo
    "plexus.cli.account",     # plexus init, whoami, logout
    "plexus.cli.data",        # plexus send, tail, query, sources, events, delete
    "plexus.cli.doctor",      # plexus doctor
    "plexus.cli.command",     # plexus command SOURCE NAME
    "plexus.gateway.cli",     # plexus gateway [keys ...]
    "plexus.cli.deploy",      # plexus deploy
]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="plexus", description="Plexus telemetry SDK and local gateway.",
        epilog="Start with `plexus demo`. `plexus COMMAND --help` describes each command.\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="plexus " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        mod.register(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or OK
    except KeyboardInterrupt:
        return INTERRUPTED
