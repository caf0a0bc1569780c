"""`plexus demo`: a real gateway process restarted part-way, real clients,
and exact accounting against the Data API."""

import collections
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from clitool import cli_env
from plexus.cli.demo.devices import board_support
from plexus.cli.demo.report import reckon

pytest.importorskip("plexus.gateway")


def test_ten_seconds_nothing_lost_nothing_duplicated(home):
    p = subprocess.run([sys.executable, "-m", "plexus.cli", "demo", "--seconds", "10", "--json"],
                       capture_output=True, text=True, timeout=300, env=cli_env(home))
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(p.stdout)
    assert report["restarts"] == 1
    assert report["lost"] == 0 and report["duplicated"] == 0
    sims = [d for d in report["devices"] if not d["source_id"].startswith("demo-board")]
    boards = [d for d in report["devices"] if d["source_id"].startswith("demo-board")]
    assert [d["source_id"] for d in sims] == ["demo-pump-1", "demo-rover-2", "demo-weather-3"]
    for d in report["devices"]:
        assert d["sent"] > 0 and d["stored"] == d["sent"], d
        assert d["lost"] == 0 and d["duplicated"] == 0, d
        assert d["refused"] == 0 and d["drained"], d
    for d in sims:
        assert d["events_sent"] > 0 and d["events_stored"] == d["events_sent"], d
    # The board (firmware template under the MicroPython unix port) runs when both exist.
    has_board, note = board_support()
    assert len(boards) == (1 if has_board else 0)
    assert report["note"] == note
    # the demo leaves nothing in the user's home
    assert not (home / ".plexus").exists()


def test_keep_serves_the_dashboard_until_interrupted(home):
    p = subprocess.Popen([sys.executable, "-m", "plexus.cli", "demo", "--seconds", "3", "--devices", "1",
                          "--keep"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=cli_env(home, COLUMNS=300))
    lines = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops" in line:
                break
        text = "".join(lines)
        m = re.search(r"Dashboard: (http://127\.0\.0\.1:\d+)/\s+\(log in with the key in (\S+)\)", text)
        assert m, text
        url, key_file = m.group(1), m.group(2)
        with urllib.request.urlopen(url + "/", timeout=30) as r:
            assert r.status == 200 and b"<title>Plexus</title>" in r.read()
        key = open(key_file).read().strip()
        assert key.startswith("plx_") and key not in text
        assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
        req = urllib.request.Request(url + "/v1/sources", headers={"x-api-key": key})
        with urllib.request.urlopen(req, timeout=30) as r:
            devices = json.loads(r.read())["devices"]
        assert "demo-pump-1" in [d["source_id"] for d in devices]
    finally:
        p.send_signal(signal.SIGINT)
        rest = p.communicate(timeout=120)[0]
    assert p.returncode in (0, 130), text + rest
    assert not os.path.exists(os.path.dirname(key_file))  # temporary files are removed


def test_reckoning_counts_each_reading_once():
    sent = [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    found = collections.Counter({("a", 1): 1, ("a", 2): 2, ("b", 1): 1})
    assert reckon(sent, found) == (4, 4, 1, 1)  # sent, stored, lost, duplicated
    assert reckon(sent, collections.Counter(sent)) == (4, 4, 0, 0)
