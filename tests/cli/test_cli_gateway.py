"""The people CLI against a real local gateway process."""

import json
import subprocess
import sys
import time

import pytest

from clitool import cli_env, plexus

pytest.importorskip("support.gateway")


@pytest.fixture
def setup(home, gateway):
    r = plexus(home, "init", "--gateway", gateway.url, "--key", "-", "--source-id", "cli-bench",
               input=gateway.key + "\n")
    assert r.rc == 0, r
    assert gateway.key not in r.text
    return home, gateway


def no_key(r, gw):
    assert gw.key not in r.text, "the API key was printed"
    return r


def test_init_checks_the_key_with_the_gateway(home, gateway):
    r = no_key(plexus(home, "init", "--gateway", gateway.url, "--key", "plx_notarealkey0000", "--json"), gateway)
    assert r.rc == 3 and "rejected" in r.err, r
    assert not (home / ".plexus" / "config.json").exists()
    r = no_key(plexus(home, "init", "--gateway", gateway.url, "--key", "-", "--json", input=gateway.key), gateway)
    assert r.rc == 0, r
    assert json.loads(r.out)["key_status"] == "valid"


def test_init_creates_a_key_on_the_local_gateway(home, gateway):
    r = plexus(home, "init", "--gateway", gateway.url, "--create-key", "--db", gateway.db_path, "--name", "bench")
    assert r.rc == 0, r
    key = json.loads((home / ".plexus" / "config.json").read_text())["api_key"]
    assert key.startswith("plx_") and key not in r.text
    assert plexus(home, "whoami").rc == 0


def test_whoami_valid_rejected_unreachable(setup):
    home, gw = setup
    r = no_key(plexus(home, "whoami"), gw)
    assert r.rc == 0 and "valid" in r.out and gw.url in r.out, r
    info = json.loads(plexus(home, "whoami", "--json").out)
    assert info["status"] == "valid" and info["source_id"] == "cli-bench"
    r = no_key(plexus(home, "whoami", PLEXUS_API_KEY="plx_revokedornever0000"), gw)
    assert r.rc == 3 and "REJECTED" in r.out, r
    write_only = gw.create_key(scopes="write")
    r = plexus(home, "whoami", "--json", PLEXUS_API_KEY=write_only)
    assert r.rc == 0 and json.loads(r.out)["status"] == "no-read", r
    gw.stop()
    r = no_key(plexus(home, "whoami"), gw)
    assert r.rc == 4 and "cannot be reached" in r.out, r


def test_send_numbers_events_and_tags(setup):
    home, gw = setup
    r = no_key(plexus(home, "send", "coolant.temp_c", "81.4", "--tag", "line=B", "--tag", "pump=7"), gw)
    assert r.rc == 0 and "sent coolant.temp_c" in r.out, r
    r = no_key(plexus(home, "send", "state_change", '{"from": "IDLE", "to": "PRIMING"}', "--json"), gw)
    assert r.rc == 0 and json.loads(r.out)["source_id"] == "cli-bench", r
    r = plexus(home, "send", "door", "open", "--source", "cli-door")
    assert r.rc == 0, r
    pts = gw.points("cli-bench")
    assert [(p["class"], p["metric"], p["value"]) for p in pts] == [
        ("metric", "coolant.temp_c", 81.4), ("event", "state_change", {"from": "IDLE", "to": "PRIMING"})]
    assert pts[0]["tags"] == {"line": "B", "pump": "7"}
    assert [(p["metric"], p["value"]) for p in gw.points("cli-door")] == [("door", "open")]


def test_send_with_a_rejected_key(setup):
    home, gw = setup
    r = no_key(plexus(home, "send", "temp", "1", "--timeout", "20", PLEXUS_API_KEY="plx_notarealkey0000"), gw)
    assert r.rc == 3, r
    assert gw.count("cli-bench") == 0


def test_sources_and_query(setup):
    home, gw = setup
    for v in ("20.5", "21.5", "22.5"):
        assert plexus(home, "send", "env.temp_c", v).rc == 0
    assert plexus(home, "send", "env.rh", "40").rc == 0
    r = no_key(plexus(home, "sources"), gw)
    assert r.rc == 0 and "cli-bench" in r.out, r
    listed = json.loads(plexus(home, "sources", "--json").out)
    assert [d["source_id"] for d in listed] == ["cli-bench"] and listed[0]["last_seen_ms"]
    r = no_key(plexus(home, "query", "cli-bench", "--last", "5m"), gw)
    assert r.rc == 0, r
    assert r.out.count("env.temp_c") == 3 and "21.5" in r.out and "env.rh" in r.out, r
    res = json.loads(plexus(home, "query", "cli-bench", "--metrics", "env.temp_c", "--last", "5m", "--json").out)
    assert res["series"]["env.temp_c"]["value"] == [20.5, 21.5, 22.5]
    assert "env.rh" not in res["series"]
    res = json.loads(plexus(home, "query", "cli-bench", "--last", "1h", "--interval", "1m", "--json").out)
    assert res["interval"] == "1m" and sum(res["series"]["env.temp_c"]["count"]) == 3
    r = plexus(home, "query", "nobody-here", "--last", "5m")
    assert r.rc == 1 and "no readings" in r.out, r


def test_tail_follows_live_readings_and_events(setup):
    home, gw = setup
    tail = subprocess.Popen([sys.executable, "-m", "plexus.cli", "tail", "--json", "--count", "2",
                             "--for", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(home))
    try:
        # The stream only carries what arrives after it subscribed: send until it has seen two.
        deadline = time.monotonic() + 120
        while tail.poll() is None and time.monotonic() < deadline:
            assert plexus(home, "send", "tail.metric", "7.5").rc == 0
            assert plexus(home, "send", "tail.event", "hello").rc == 0
        out, err = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 0, out + err
    got = [json.loads(line) for line in out.splitlines()]
    assert len(got) == 2 and all(p["source_id"] == "cli-bench" for p in got)
    assert {(p["metric"], p["value"]) for p in got} <= {("tail.metric", 7.5), ("tail.event", "hello")}
    assert gw.key not in out + err


def test_tail_of_one_source_and_chosen_metrics(setup):
    home, gw = setup
    tail = subprocess.Popen([sys.executable, "-m", "plexus.cli", "tail", "cli-bench", "--metrics", "only.this",
                             "--json", "--count", "1", "--for", "120"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(home))
    try:
        deadline = time.monotonic() + 120
        while tail.poll() is None and time.monotonic() < deadline:
            assert plexus(home, "send", "not.this", "1", "--source", "cli-other").rc == 0
            assert plexus(home, "send", "not.this", "2").rc == 0
            assert plexus(home, "send", "only.this", "3").rc == 0
        out, err = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
    assert tail.returncode == 0, out + err
    (got,) = [json.loads(line) for line in out.splitlines()]
    assert (got["source_id"], got["metric"], got["value"]) == ("cli-bench", "only.this", 3)


def test_tail_with_a_rejected_key(setup):
    home, gw = setup
    r = no_key(plexus(home, "tail", "--for", "30", PLEXUS_API_KEY="plx_notarealkey0000"), gw)
    assert r.rc == 3, r


def test_doctor_all_good(setup):
    home, gw = setup
    r = no_key(plexus(home, "doctor"), gw)
    assert r.rc == 0 and "All good" in r.out, r
    checks = {c["check"]: c["level"] for c in json.loads(plexus(home, "doctor", "--json").out)["checks"]}
    assert checks == {"config": "ok", "key": "ok", "gateway": "ok", "reachable": "ok",
                      "key accepted": "ok", "clock": "ok", "buffer": "ok"}
    r = plexus(home, "doctor", "--json", PLEXUS_API_KEY="plx_notarealkey0000")
    checks = {c["check"]: c for c in json.loads(r.out)["checks"]}
    assert r.rc == 1 and checks["key accepted"]["level"] == "fail" and checks["key accepted"]["fix"]
