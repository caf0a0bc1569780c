"""Reading the code out of the Markdown docs: fenced blocks (runnable ones
are marked ```python runnable / ```sh runnable) and `plexus ...` commands."""

import glob
import os
import re
import shlex

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
INLINE = re.compile(r"`(plexus [^`]+)`")


def doc_files():
    """Every Markdown file users read: docs/, the agent skill, the board examples."""
    files = glob.glob(os.path.join(ROOT, "docs", "*.md"))
    files += glob.glob(os.path.join(ROOT, "skills", "plexus", "**", "*.md"), recursive=True)
    files += [os.path.join(ROOT, "firmware", "examples", "README.md"), os.path.join(ROOT, "README.md")]
    return sorted(f for f in files if os.path.exists(f))


def rel(path):
    return os.path.relpath(path, ROOT)


def blocks(path):
    """[(info words, code)] of the fenced blocks, in order."""
    text = open(path, encoding="utf-8").read()
    return [(m.group(1).split(), m.group(2)) for m in FENCE.finditer(text)]


def runnable(path):
    return [(info[0], code) for info, code in blocks(path) if len(info) > 1 and info[1] == "runnable"]


def plexus_commands(path):
    """Every `plexus ...` command line in code blocks and inline code, as argv lists."""
    text = open(path, encoding="utf-8").read()
    lines = []
    for info, code in blocks(path):
        if info and info[0] not in ("sh", "bash", "console", "shell"):
            continue
        joined = code.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:]
            for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
                part = re.sub(r"^\S+=\S+\s+", "", part.strip())  # VAR=value plexus ...
                part = re.sub(r"^export \w+=\$\(", "", part).rstrip(")")
                if part.startswith("plexus "):
                    lines.append(part)
    prose = FENCE.sub("", text)
    lines += INLINE.findall(prose)
    out = []
    for line in lines:
        line = line.split("#")[0].strip().rstrip("&").strip()
        try:
            out.append(shlex.split(line))
        except ValueError:
            raise AssertionError("%s: cannot parse %r" % (rel(path), line))
    return out
