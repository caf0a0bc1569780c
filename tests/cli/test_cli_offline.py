"""The people CLI without a gateway: help, exit codes, config handling and
clear errors. Unreachable gateways are real closed ports on 127.0.0.1."""

import json
import os
import socket
import stat

import pytest

from clitool import plexus
from plexus.cli import common, data

COMMANDS = ["init", "whoami", "logout", "send", "tail", "query", "sources", "doctor", "demo"]
KEY = "plx_0123456789abcdef0123456789abcdef"


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return "http://127.0.0.1:%d" % port


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_has_help_with_exit_codes(home, cmd):
    r = plexus(home, cmd, "--help")
    assert r.rc == 0, r
    assert "usage: plexus " + cmd in r.out
    assert "exit codes" in r.out


def test_version_and_top_level_help(home):
    r = plexus(home, "--version")
    assert r.rc == 0 and r.out.startswith("plexus ") and data.__name__, r
    r = plexus(home, "--help")
    assert r.rc == 0 and all(c in r.out for c in COMMANDS), r
    assert "exit codes" in r.out


def test_no_command_is_a_usage_error(home):
    assert plexus(home).rc == 2
    assert plexus(home, "query").rc == 2  # SOURCE is required


def test_commands_without_a_key_say_how_to_set_one_up(home):
    for args in (["whoami"], ["sources"], ["send", "temp", "21.5"], ["query", "x"]):
        r = plexus(home, *args)
        assert r.rc == 1, (args, r)
        assert "plexus init" in r.err, (args, r)


def test_init_without_verifying_saves_a_private_config(home):
    url = closed_port_url()
    r = plexus(home, "init", "--gateway", url, "--key", KEY, "--no-verify", "--source-id", "bench-7")
    assert r.rc == 0, r
    path = home / ".plexus" / "config.json"
    cfg = json.loads(path.read_text())
    assert cfg["api_key"] == KEY and cfg["gateway_url"] == url and cfg["source_id"] == "bench-7"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert KEY not in r.text  # shown masked only
    # a second init does not silently replace the key
    r = plexus(home, "init", "--gateway", url, "--key", KEY[:-1] + "x", "--no-verify")
    assert r.rc == 1 and "--force" in r.err, r
    assert json.loads(path.read_text())["api_key"] == KEY


def test_init_reads_the_key_from_stdin(home):
    r = plexus(home, "init", "--gateway", closed_port_url(), "--key", "-", "--no-verify", input=KEY + "\n")
    assert r.rc == 0, r
    assert json.loads((home / ".plexus" / "config.json").read_text())["api_key"] == KEY


@pytest.mark.parametrize("bad", ["hello", "plx_ with space", ""])
def test_init_refuses_what_is_not_a_key(home, bad):
    r = plexus(home, "init", "--gateway", closed_port_url(), "--key", bad, "--no-verify")
    assert r.rc == 2, r
    assert not (home / ".plexus" / "config.json").exists()


def test_init_creates_keys_only_on_a_named_local_gateway(home):
    r = plexus(home, "init", "--create-key", "--db", str(home / "gw.db"))
    assert r.rc == 2 and "--gateway" in r.err, r
    r = plexus(home, "init", "--create-key", "--gateway", closed_port_url())
    assert r.rc == 2 and "--db" in r.err, r


def test_init_refuses_a_gateway_url_without_scheme(home):
    r = plexus(home, "init", "--gateway", "127.0.0.1:8080", "--key", KEY, "--no-verify")
    assert r.rc == 2 and "http://" in r.err, r


def test_whoami_when_the_gateway_is_unreachable(home):
    url = closed_port_url()
    assert plexus(home, "init", "--gateway", url, "--key", KEY, "--no-verify").rc == 0
    r = plexus(home, "whoami")
    assert r.rc == 4, r
    assert "cannot be reached" in r.out and KEY not in r.text
    r = plexus(home, "whoami", "--json")
    assert r.rc == 4 and json.loads(r.out)["status"] == "unreachable", r
    r = plexus(home, "whoami", "--no-verify", "--json")
    info = json.loads(r.out)
    assert r.rc == 0 and info["key"] == KEY[:8] + "…" + KEY[-4:] and info["gateway_url"] == url


def test_data_commands_report_an_unreachable_gateway(home):
    url = closed_port_url()
    for args in (["sources"], ["query", "pump-1", "--last", "5m"], ["send", "temp", "21.5", "--timeout", "2"]):
        r = plexus(home, *args, "--gateway", url, PLEXUS_API_KEY=KEY)
        assert r.rc == 4, (args, r)
        assert KEY not in r.text
    r = plexus(home, "tail", "--gateway", url, "--for", "1", PLEXUS_API_KEY=KEY)
    assert r.rc == 4, r


def test_query_checks_its_window_before_asking(home):
    r = plexus(home, "query", "pump-1", "--last", "soon", PLEXUS_API_KEY=KEY, PLEXUS_GATEWAY_URL=closed_port_url())
    assert r.rc == 2 and "--last" in r.err, r
    r = plexus(home, "query", "pump-1", "--start", "2026-01-01T00:00:00Z", PLEXUS_API_KEY=KEY)
    assert r.rc == 2 and "--end" in r.err, r


def test_send_refuses_bad_input_at_the_edge(home):
    url = closed_port_url()
    r = plexus(home, "send", "temp", "nan", "--gateway", url, PLEXUS_API_KEY=KEY)
    assert r.rc == 2 and "finite" in r.err, r
    r = plexus(home, "send", "temp", "1", "--tag", "novalue", "--gateway", url, PLEXUS_API_KEY=KEY)
    assert r.rc == 2 and "key=value" in r.err, r
    r = plexus(home, "send", "temp", "{bad json", "--gateway", url, PLEXUS_API_KEY=KEY)
    assert r.rc == 2 and "JSON" in r.err, r


def test_logout_forgets_the_key_and_keeps_the_rest(home):
    url = closed_port_url()
    assert plexus(home, "init", "--gateway", url, "--key", KEY, "--no-verify").rc == 0
    r = plexus(home, "logout")
    assert r.rc == 0 and "Forgot" in r.out, r
    cfg = json.loads((home / ".plexus" / "config.json").read_text())
    assert cfg["api_key"] is None and cfg["gateway_url"] == url
    r = plexus(home, "logout", "--json")
    assert r.rc == 0 and json.loads(r.out) == {"logged_out": False}
    assert plexus(home, "whoami").rc == 1


def test_doctor_names_each_problem_and_its_fix(home):
    url = closed_port_url()
    r = plexus(home, "doctor", "--gateway", url)
    assert r.rc == 1, r
    assert "no API key" in r.out and "plexus init" in r.out
    r = plexus(home, "doctor", "--json", "--gateway", url, PLEXUS_API_KEY=KEY)
    assert r.rc == 1, r
    checks = {c["check"]: c for c in json.loads(r.out)["checks"]}
    assert checks["key"]["level"] == "ok"
    assert checks["reachable"]["level"] == "fail" and checks["reachable"]["fix"]
    assert KEY not in r.out


def test_doctor_warns_about_a_readable_config_and_a_backlog(home):
    import sqlite3
    assert plexus(home, "init", "--gateway", closed_port_url(), "--key", KEY, "--no-verify").rc == 0
    os.chmod(home / ".plexus" / "config.json", 0o644)
    db = sqlite3.connect(str(home / ".plexus" / "buffer-pump-1.db"))
    db.execute("CREATE TABLE batches (id INTEGER PRIMARY KEY, bid TEXT, n INTEGER, data TEXT)")
    db.execute("INSERT INTO batches (bid, n, data) VALUES ('b1', 3, '')")
    db.commit()
    db.close()
    r = plexus(home, "doctor", "--json")
    checks = {c["check"]: c for c in json.loads(r.out)["checks"]}
    assert checks["config"]["level"] == "warn" and "chmod 600" in checks["config"]["fix"], r
    assert checks["buffer"]["level"] == "warn" and "3 readings" in checks["buffer"]["message"], r
    assert r.rc == 1  # the gateway is unreachable


def test_doctor_warns_when_the_key_would_travel_unencrypted(home):
    r = plexus(home, "doctor", "--json", "--gateway", "http://192.0.2.1:9", "--timeout", "1",
               PLEXUS_API_KEY=KEY)
    checks = {c["check"]: c for c in json.loads(r.out)["checks"]}
    assert checks["gateway"]["level"] == "warn" and "unencrypted" in checks["gateway"]["message"]


@pytest.mark.parametrize("text,value", [("21.5", 21.5), ("3", 3), ("-1e3", -1000.0), ("true", True),
                                        ("False", False), ('{"a": 1}', {"a": 1}), ("[1,2]", [1, 2]),
                                        ("open", "open")])
def test_values_are_typed_like_a_person_means_them(text, value):
    got = data.parse_value(text)
    assert got == value and type(got) is type(value)


def test_key_is_masked():
    assert common.mask(KEY) == "plx_0123…cdef"
    assert common.mask("plx_short") == "plx_…"
