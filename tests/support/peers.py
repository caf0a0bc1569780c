"""The published plexus-python clients, each in its own virtualenv under
.peers/ (created on first use from the package index), for wire tests and
benchmarks against them."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERSIONS = ("0.5.2", "0.16.0")


def peer_python(version):
    """Path of a Python that imports plexus-python==`version`."""
    venv = os.path.join(ROOT, ".peers", "plexus-python-" + version)
    py = os.path.join(venv, "bin", "python")
    probe = subprocess.run([py, "-c", "import plexus; print(plexus.__version__)"], capture_output=True,
                           text=True) if os.path.exists(py) else None
    if probe is None or probe.stdout.strip() != version:
        subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True)
        r = subprocess.run([py, "-m", "pip", "install", "-q", "plexus-python==" + version], capture_output=True,
                           text=True)
        if r.returncode != 0:  # the only reason to skip: the index cannot be reached from here
            import pytest
            pytest.skip("plexus-python==%s could not be installed from the package index (unreachable?): %s"
                        % (version, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "pip failed"))
    return py
