"""`plexus gateway keys` as a real command: keys are printed once, stored as
hashes only, and revoking one locks it out of a running gateway."""

import os
import subprocess
import sys

from support.raw import ingest


def plexus_gateway(*args):
    tool = os.path.join(os.path.dirname(sys.executable), "plexus")
    r = subprocess.run([tool, "gateway"] + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def test_create_list_revoke(gateway):
    rc, out, err = plexus_gateway("keys", "create", *gateway.store_args, "--name", "bench",
                                  "--scope", "write", "--source", "pump-07")
    assert rc == 0, err
    key = out.strip().splitlines()[-1]
    assert key.startswith("plx_") and len(key) > 40
    assert ingest(gateway, [{"metric": "t", "value": 1}], key=key, source_id="pump-07")[0] == 200

    rc, out, _ = plexus_gateway("keys", "list", *gateway.store_args)
    assert rc == 0 and "bench" in out and "pump-07" in out and key not in out and key[:8] in out

    raw = gateway.at_rest()
    assert key.encode() not in raw and gateway.key.encode() not in raw      # only hashes at rest

    rc, out, _ = plexus_gateway("keys", "revoke", "bench", *gateway.store_args)
    assert rc == 0 and "revoked 1" in out
    assert ingest(gateway, [{"metric": "t", "value": 2}], key=key, source_id="pump-07")[0] == 401
    assert plexus_gateway("keys", "revoke", "bench", *gateway.store_args)[0] == 1


def test_bad_scope_and_source_are_refused_clearly(tmp_path):
    db = str(tmp_path / "g.db")
    rc, out, err = plexus_gateway("keys", "create", "--db", db, "--scope", "admin")
    assert rc == 2 and "scope must be" in err and "plx_" not in out
    rc, out, err = plexus_gateway("keys", "create", "--db", db, "--source", "Bad Id")
    assert rc == 2 and "source_id" in err


def test_the_gateway_never_logs_keys(gateway):
    ingest(gateway, [{"metric": "t", "value": 1}])
    ingest(gateway, [{"metric": "t", "value": 1}], key="plx_" + "a" * 48)
    gateway.stop()
    log = gateway.log()
    assert "listening on" in log and gateway.key not in log and "plx_aaaa" not in log
