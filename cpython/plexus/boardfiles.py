"""Where the files that go on a board live: package.json (the mip manifest),
core/ and firmware/, in the same layout as in a checkout.

A checkout (or an editable install) uses them in place; an installed wheel
carries them under <prefix>/share/plexus-sdk (pyproject.toml's data-files).
"""

import os
import sys
import sysconfig

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _complete(root):
    return os.path.exists(os.path.join(root, "package.json")) and \
        os.path.exists(os.path.join(root, "firmware", "main.py"))


def candidates():
    yield CHECKOUT
    seen = set()
    for scheme in (None, "posix_user", "nt_user"):
        try:
            base = sysconfig.get_path("data", scheme) if scheme else sysconfig.get_path("data")
        except KeyError:
            continue
        if base and base not in seen:
            seen.add(base)
            yield os.path.join(base, "share", "plexus-sdk")
    yield os.path.join(sys.prefix, "share", "plexus-sdk")


def root():
    """The directory holding package.json, core/ and firmware/, or None."""
    for d in candidates():
        if _complete(d):
            return d
    return None
