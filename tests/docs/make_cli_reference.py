"""Regenerate skills/plexus/references/cli.md from the CLI's parser:

    .venv/bin/python tests/docs/make_cli_reference.py

The introduction (everything before the first command) is kept as written;
the command sections are rebuilt. test_docs checks the file is complete.
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATH = os.path.join(ROOT, "skills", "plexus", "references", "cli.md")


def _subparsers(parser):
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return a.choices
    return {}


def sections(parser, path, out):
    rows = []
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction) or a.dest == "help":
            continue
        name = ", ".join(a.option_strings) if a.option_strings else a.dest.upper()
        if a.option_strings and a.nargs != 0:
            name += " " + (a.metavar or a.dest.upper())
        text = a.help or ""
        if a.option_strings and a.default not in (None, False, [], argparse.SUPPRESS) and "default" not in text:
            text += " (default %s)" % a.default
        rows.append((name, text))
    if path:
        out.append("### `plexus %s`\n" % " ".join(path))
        desc = re.sub(r"\s+", " ", (parser.description or "").strip())
        if desc:
            out.append(desc + "\n")
        if rows:
            out.append("| argument | meaning |\n|---|---|")
            out.extend("| `%s` | %s |" % (n, t.replace("|", "\\|")) for n, t in rows)
            out.append("")
    for name, sub in _subparsers(parser).items():
        sections(sub, path + [name], out)
    return out


def main():
    sys.path.insert(0, os.path.join(ROOT, "cpython"))
    sys.path.insert(0, os.path.join(ROOT, "core"))
    from plexus.cli import build_parser
    intro = open(PATH, encoding="utf-8").read().split("\n### ", 1)[0].rstrip("\n") + "\n\n"
    with open(PATH, "w", encoding="utf-8") as f:
        f.write(intro + "\n".join(sections(build_parser(), [], [])) + "\n")


if __name__ == "__main__":
    main()
