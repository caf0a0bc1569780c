"""Running the programs in examples/ and firmware/examples/ as a user would:
a real process, the key and gateway URL in the environment."""

import json
import os
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
BOARD_EXAMPLES = os.path.join(ROOT, "firmware", "examples")


def env_for(gateway, tmp_path):
    """What a user sets: the key and the gateway; a private home for the buffer and config."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    e = dict(os.environ, PLEXUS_API_KEY=gateway.key, PLEXUS_GATEWAY_URL=gateway.url, HOME=str(home),
             PLEXUS_CONFIG_DIR=str(home / ".plexus"), PLEXUS_QUIET="1")
    e.pop("PLEXUS_GATEWAY_WS_URL", None)
    e.pop("PLEXUS_ENDPOINT", None)
    return e


def run_example(name, args, gateway, tmp_path, timeout=180):
    """Run examples/<name> to completion; returns its stdout (asserts exit 0)."""
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)] + list(args), cwd=str(tmp_path),
                       env=env_for(gateway, tmp_path), capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, "%s exited %d:\n%s\n%s" % (name, r.returncode, r.stdout, r.stderr)
    assert gateway.key not in r.stdout + r.stderr
    return r.stdout


def plexus_cli(args, gateway, tmp_path, timeout=120):
    return subprocess.run([sys.executable, "-m", "plexus.cli"] + list(args), env=env_for(gateway, tmp_path),
                          capture_output=True, text=True, timeout=timeout, cwd=str(tmp_path))


def api(gateway, path):
    req = urllib.request.Request(gateway.url + path, headers={"x-api-key": gateway.key})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)  # polling a condition, not timing the system
    raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))


def by_metric(points, metric):
    return [p for p in points if p["metric"] == metric]
