"""Regenerate package.json (the mip manifest) from the files under core/.

Run after adding or removing a core module; tests/test_packaging.py fails
until package.json matches. The version comes from plexus_core.__version__.
"""

import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    urls = []
    for d, src in (("plexus_core", "core/plexus_core"), ("plexus", "core/board/plexus")):
        for f in sorted(os.listdir(os.path.join(ROOT, src))):
            if f.endswith(".py"):
                urls.append([d + "/" + f, src + "/" + f])
    with open(os.path.join(ROOT, "core", "plexus_core", "__init__.py")) as fh:
        version = re.search(r'__version__ = "([^"]+)"', fh.read()).group(1)
    with open(os.path.join(ROOT, "package.json"), "w") as fh:
        json.dump({"urls": urls, "deps": [], "version": version}, fh, indent=2)
        fh.write("\n")
    print("package.json: %d files, version %s" % (len(urls), version))


if __name__ == "__main__":
    main()
