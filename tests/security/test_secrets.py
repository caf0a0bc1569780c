"""API keys never show up where people and logs can see them: client errors
and stderr lines, the gateway's log, URLs, the dashboard page."""

import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import sys
    from plexus import Plexus, AuthenticationError, PlexusError
    key, sid, url, transport = sys.argv[1:5]
    px = Plexus(api_key=key, source_id=sid, gateway_url=url, transport=transport, buffer_path=sid + ".db",
                timeout=5)
    px.send("t", 1)
    try:
        px.flush_buffer(5)
        print("NO ERROR")
    except (AuthenticationError, PlexusError) as e:
        print("ERROR", type(e).__name__, e)
    print(repr(px))
    px.close()
""")


def test_a_rejected_key_is_never_echoed(gateway, tmp_path):
    revoked = gateway.create_key(name="old")
    from plexus.gateway import db, keys
    conn = db.connect(gateway.db_path)
    keys.revoke(conn, "old")
    conn.close()
    for transport in ("ws", "http"):
        env = dict(os.environ, HOME=str(tmp_path))
        env.pop("PLEXUS_QUIET", None)                       # the client's stderr lines are on
        r = subprocess.run([sys.executable, "-c", CHILD, revoked, "sec-" + transport, gateway.url, transport],
                           cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
        out = r.stdout + r.stderr
        assert "ERROR AuthenticationError" in r.stdout, out
        assert revoked not in out and revoked[4:20] not in out, out
    assert gateway.count("sec-ws") == 0 and gateway.count("sec-http") == 0
    gateway.stop()
    assert revoked not in gateway.log() and gateway.key not in gateway.log()


def test_keys_travel_in_headers_and_first_frames_only():
    """Every place our code builds a URL: no key parameter in any of them."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    offenders = []
    for base in ("cpython/plexus", "core/plexus_core"):
        for dirpath, _, files in os.walk(os.path.join(root, base)):
            for f in files:
                if f.endswith((".py", ".js", ".html")):
                    text = open(os.path.join(dirpath, f), encoding="utf-8").read()
                    for needle in ("?api_key=", "&api_key=", "?key=", "&key=", "token="):
                        if needle in text:
                            offenders.append((f, needle))
    assert not offenders, offenders
