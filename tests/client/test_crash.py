"""A client process killed right after send() returned loses nothing it committed."""

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter

from util import values

CHILD = textwrap.dedent("""
    import sys, time
    from plexus import Plexus
    key, ws_url, phase, metric = sys.argv[1:5]
    px = Plexus(api_key=key, source_id="crash-1", ws_url=ws_url)
    if phase == "send":
        for i in range(2000):
            px.send(metric, i)
        px.persist()                       # the documented rule: now on disk
        print("committed", flush=True)
        for i in range(2000, 4000):
            px.send(metric, i)              # returned; committed within the linger window
        print("returned", flush=True)
        time.sleep(600)
    else:
        ok = px.flush_buffer(60)
        print("drained", ok, px.buffer_size(), flush=True)
        px.close()
""")


def run_child(gateway, phase, env, metric="seq"):
    return subprocess.Popen([sys.executable, "-c", CHILD, gateway.key, gateway.ws_url, phase,
                             metric],
                            stdout=subprocess.PIPE, text=True, env=env)


def test_sigkill_after_send_then_restart_delivers_every_committed_reading_once(gateway,
                                                                            isolated_home):
    env = dict(os.environ)
    for round_ in range(3):
        child = run_child(gateway, "send", env, "seq%d" % round_)
        try:
            assert child.stdout.readline().strip() == "committed"
            assert child.stdout.readline().strip() == "returned"
            os.kill(child.pid, signal.SIGKILL)  # mid-delivery: some batches are in flight
        finally:
            child.wait(30)
        drain = run_child(gateway, "drain", env)
        out, _ = drain.communicate(timeout=120)
        assert out.split()[:3] == ["drained", "True", "0"], out

        got = Counter(values(gateway.points("crash-1"), "seq%d" % round_))
        # All 2000 committed readings arrive exactly once; of the 2000 sent
        # afterwards, whatever reached the disk arrives once, and commits are
        # in order, so that is a prefix.
        missing = [i for i in range(2000) if got[i] != 1]
        assert not missing, "committed readings lost or doubled: %s" % missing[:10]
        assert all(c == 1 for c in got.values()), "a reading was stored twice"
        later = sorted(v for v in got if v >= 2000)
        assert later == list(range(2000, 2000 + len(later))), "commits were not in order"
