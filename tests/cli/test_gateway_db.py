"""`plexus gateway --db` and `keys --db`: a wrong path is refused with what
to do, before anything is created or changed; `--retention` deletes old
points from a running gateway."""

import json
import os
import sqlite3
import time

import pytest

from clitool import plexus
from support.gateway import Gateway
from support.waiting import wait_for


def test_a_file_that_is_not_a_database_is_refused_without_a_traceback(home, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n")
    r = plexus(home, "gateway", "--db", notes, "--port", "0")
    assert r.rc == 2 and "Traceback" not in r.text, r
    assert r.err.strip() == ("error: %s is not a gateway database (SQLite says: file is not a database): "
                             "pass --db with another file name, or move that file away" % notes)
    assert notes.read_text() == "shopping list\n"
    r = plexus(home, "gateway", "keys", "list", "--db", notes)
    assert r.rc == 2 and "is not a gateway database" in r.err and "Traceback" not in r.text, r


def test_a_sqlite_file_of_something_else_is_refused(home, tmp_path):
    other = tmp_path / "photos.db"
    conn = sqlite3.connect(str(other))
    conn.execute("CREATE TABLE albums (id INTEGER)")
    conn.commit()
    conn.close()
    r = plexus(home, "gateway", "keys", "create", "--db", other)
    assert r.rc == 2 and "is a SQLite database of something else (tables: albums)" in r.err, r
    conn = sqlite3.connect(str(other))
    assert [t for (t,) in conn.execute("SELECT name FROM sqlite_master")] == ["albums"]
    conn.close()


def test_a_missing_directory_is_not_created(home, tmp_path):
    path = tmp_path / "no" / "such" / "dir" / "gw.db"
    r = plexus(home, "gateway", "--db", path, "--port", "0")
    assert r.rc == 2, r
    assert ("error: the directory %s does not exist (for --db %s): create it first (mkdir -p %s) or "
            "pick another path; it is not created for you" % (path.parent, path, path.parent)) in r.err
    assert not (tmp_path / "no").exists()


def test_keys_create_refuses_a_mistyped_database_unless_asked(home, tmp_path):
    typo = tmp_path / "gatway.db"
    r = plexus(home, "gateway", "keys", "create", "--db", typo)
    assert r.rc == 2 and not typo.exists(), r
    assert ("error: there is no gateway database at %s: check the --db path (the gateway's default "
            "is ~/.plexus/gateway.db), or pass --create to start a new one" % typo) in r.err
    r = plexus(home, "gateway", "keys", "create", "--db", typo, "--create", "--name", "first")
    assert r.rc == 0 and r.out.strip().startswith("plx_"), r
    # the default database may be made by the first command that needs it
    r = plexus(home, "gateway", "keys", "create", "--name", "laptop")
    assert r.rc == 0 and (home / ".plexus" / "gateway.db").exists(), r


def test_keys_list_has_a_header(home, tmp_path):
    db = tmp_path / "gw.db"
    assert plexus(home, "gateway", "keys", "create", "--db", db, "--create", "--name", "bench",
                  "--scope", "write", "--source", "pump-1").rc == 0
    lines = plexus(home, "gateway", "keys", "list", "--db", db).out.splitlines()
    assert lines[0].split() == ["id", "name", "hint", "scopes", "state", "source"], lines
    assert lines[1].split()[:2] == ["1", "bench"] and lines[1].split()[-1] == "pump-1", lines
    r = plexus(home, "gateway", "keys", "list", "--db", db, "--csv")
    assert r.out.splitlines()[0] == "id,name,hint,scopes,state,source", r
    (k,) = json.loads(plexus(home, "gateway", "keys", "list", "--db", db, "--json").out)
    assert k["name"] == "bench" and k["scopes"] == "write" and k["source"] == "pump-1"
    assert k["hint"].startswith("plx_") and len(k["hint"]) < 12  # a hint, never the key


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_retention_deletes_old_points_and_keeps_new_ones(home, tmp_path, store):
    if store == "postgresql":
        pytest.importorskip("asyncpg")
    gw = Gateway(tmp_path / "gw", args=["--retention", "1d", "--retention-every", "0.5"], store=store)
    gw.start()
    try:
        env = dict(PLEXUS_API_KEY=gw.key, PLEXUS_GATEWAY_URL=gw.url)
        old = time.time() - 3 * 86400
        assert plexus(home, "send", "t", "1", "--source", "rig", "--timestamp", old, **env).rc == 0
        assert plexus(home, "send", "note", "old", "--source", "rig", "--timestamp", old, **env).rc == 0
        assert plexus(home, "send", "t", "2", "--source", "rig", **env).rc == 0
        wait_for(lambda: [p["value"] for p in gw.points("rig")] == [2], 60, "old points deleted")
        assert "retention: deleting readings and events older than 1d" in gw.log()
        r = plexus(home, "query", "rig", "--last", "5m", "--json", **env)
        assert json.loads(r.out)["series"]["t"]["value"] == [2], r
    finally:
        gw.stop()


def test_retention_takes_only_an_age(home):
    r = plexus(home, "gateway", "--retention", "forever")
    assert r.rc == 2 and "'forever' must be a whole number and a unit: 90m, 12h, 30d or 8w" in r.err, r
    assert not os.path.exists(home / ".plexus" / "gateway.db")
