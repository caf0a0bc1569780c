"""What a new user meets in the first hour: config mistakes named, the CLI's
messages saying what is true and what to do, and the read commands' formats.
Offline cases use closed ports; the rest a real gateway process."""

import csv
import io
import json
import subprocess
import sys
import time

import pytest

from clitool import cli_env, plexus
from support.waiting import wait_for
from test_cli_offline import KEY, closed_port_url


def write_config(home, text):
    d = home / ".plexus"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(text)
    return d / "config.json"


# -- config problems name the file, the line and the field ----------------------------------

def test_a_truncated_config_is_named_by_every_command(home):
    path = write_config(home, '{\n  "gateway_url": "http://127.0.0.1:9",\n  "api_key": "plx_abc')
    want = "%s line 3 column 14: is not valid JSON (Unterminated string starting at)" % path
    for args in (["whoami"], ["send", "temp", "1"], ["sources"], ["query", "pump-1"]):
        r = plexus(home, *args)
        assert r.rc == 1 and want in r.err and "no API key" not in r.text, (args, r)
    r = plexus(home, "doctor", "--json")
    checks = {c["check"]: c for c in json.loads(r.out)["checks"]}
    assert r.rc == 1 and want in checks["config"]["message"], r
    assert "plexus init --force" in checks["config"]["fix"]
    # the client names it too instead of saying there is no key
    p = subprocess.run([sys.executable, "-c", "from plexus import Plexus\nPlexus()"], capture_output=True,
                       text=True, env=cli_env(home), timeout=60)
    assert want in p.stderr and "No API key" not in p.stderr, p.stderr
    # with the key and source id given, it is ignored and said so (and left as it was)
    p = subprocess.run([sys.executable, "-c", "from plexus import Plexus\n"
                        "Plexus(api_key='plx_0123456789abcdef', source_id='rig-1', gateway_url='http://127.0.0.1:9')"
                        ".close()"],
                       capture_output=True, text=True, env=cli_env(home), timeout=60)
    assert p.returncode == 0 and "[plexus] ignoring the config file: " + want in p.stderr, p.stderr
    assert path.read_text().endswith('"plx_abc')


def test_a_field_of_the_wrong_type_is_named_not_a_crash(home):
    path = write_config(home, '{\n  "gateway_url": "http://127.0.0.1:9",\n  "api_key": 12345\n}\n')
    want = ('%s line 3: field api_key must be a string in quotes such as "plx_...", not the '
            "number 12345" % path)
    r = plexus(home, "whoami")
    assert r.rc == 1 and want in r.err and "Traceback" not in r.text, r
    r = plexus(home, "doctor")
    assert r.rc == 1 and want in r.out and "Traceback" not in r.text, r
    r = plexus(home, "doctor", "--json")
    assert json.loads(r.out)["checks"][0]["level"] == "fail", r


def test_init_replaces_a_broken_config_only_when_told(home):
    path = write_config(home, "{not json")
    r = plexus(home, "init", "--gateway", closed_port_url(), "--key", KEY, "--no-verify")
    assert r.rc == 1 and str(path) in r.err and "--force" in r.err, r
    assert path.read_text() == "{not json"  # untouched
    r = plexus(home, "init", "--gateway", closed_port_url(), "--key", KEY, "--no-verify", "--force")
    assert r.rc == 0 and json.loads(path.read_text())["api_key"] == KEY, r


# -- the CLI's rough edges -------------------------------------------------------------------

def test_a_short_key_is_called_too_short(home):
    r = plexus(home, "init", "--gateway", closed_port_url(), "--key", "plx_bad", "--no-verify")
    assert r.rc == 2, r
    assert ("that key is 7 characters long, too short for a Plexus key (plx_ and at least 12 more; "
            "a local gateway's are plx_ and 48): copy the whole key") in r.err


def test_source_ids_suggest_the_valid_spelling(home):
    r = plexus(home, "send", "temp", "1", "--source", "Pump-07", "--gateway", closed_port_url(),
               PLEXUS_API_KEY=KEY)
    assert r.rc == 2 and "did you mean --source pump-07?" in r.err, r
    r = plexus(home, "init", "--gateway", closed_port_url(), "--key", KEY, "--no-verify",
               "--source-id", "Boiler Room 2")
    assert r.rc == 2 and "did you mean --source-id boiler-room-2?" in r.err, r


def test_send_to_a_closed_port_says_it_cannot_reach_it(home):
    url = closed_port_url()
    t0 = time.monotonic()
    r = plexus(home, "send", "temp", "21.5", "--gateway", url, PLEXUS_API_KEY=KEY)
    assert r.rc == 4, r
    assert "error: cannot reach the gateway at %s (" % url in r.err, r
    assert "the reading was not sent" in r.err and "within" not in r.err, r
    assert time.monotonic() - t0 < 60


def test_last_takes_seconds_and_weeks(home):
    from plexus.cli import data
    q = data.window_query("90s")
    assert set(q) == {"start", "end"} and q["start"].endswith("Z")
    assert data.window_query("15m") == {"last": "15m"}
    assert set(data.window_query("2w")) == {"start", "end"}
    r = plexus(home, "query", "pump-1", "--last", "90x", PLEXUS_API_KEY=KEY, PLEXUS_GATEWAY_URL=closed_port_url())
    assert r.rc == 2 and "90s, 10m, 1h, 7d or 2w" in r.err, r


def test_tables_print_brackets_as_text(capsys):
    from plexus.cli.common import Out
    Out().table(["metric", "value"], [("hint", "pip install 'plexus-sdk[gateway]'")], title="t[x]")
    text = capsys.readouterr().out
    assert "plexus-sdk[gateway]" in text and "t[x]" in text


def test_the_demo_report_prints_brackets_as_text():
    from rich.console import Console
    from plexus.cli.demo.report import print_report
    buf = io.StringIO()
    print_report(Console(file=buf, width=200), [], "http://127.0.0.1:8080", "/tmp/key[1].txt",
                 "board device skipped (pip install 'plexus-sdk[gateway]')", 0, True)
    text = buf.getvalue()
    assert "pip install 'plexus-sdk[gateway]'" in text and "/tmp/key[1].txt" in text, text


# -- against a real gateway ------------------------------------------------------------------

@pytest.fixture
def setup(home, gateway):
    r = plexus(home, "init", "--gateway", gateway.url, "--key", "-", "--source-id", "hour-1",
               input=gateway.key + "\n")
    assert r.rc == 0, r
    return home, gateway


def test_whoami_with_a_rejected_key_from_the_environment_says_to_unset_it(setup):
    home, gw = setup
    r = plexus(home, "whoami", PLEXUS_API_KEY="plx_notarealkey0000")
    assert r.rc == 3, r
    assert ("fix:      the key comes from PLEXUS_API_KEY, which overrides the saved config: set it to "
            "a valid key, or unset it (`unset PLEXUS_API_KEY`)") in r.out, r
    assert "init --force" not in r.out
    r = plexus(home, "send", "t", "1", PLEXUS_API_KEY="plx_notarealkey0000")
    assert r.rc == 3 and "it comes from PLEXUS_API_KEY" in r.err, r
    r = plexus(home, "doctor", "--json", PLEXUS_API_KEY="plx_notarealkey0000")
    fix = {c["check"]: c for c in json.loads(r.out)["checks"]}["key accepted"]["fix"]
    assert "unset PLEXUS_API_KEY" in fix and "init --force" not in fix, fix


def test_a_source_limited_key_is_shown_and_named(setup):
    home, gw = setup
    limited = gw.create_key(scopes="write,read", source="pump-1")
    r = plexus(home, "whoami", "--json", PLEXUS_API_KEY=limited)
    assert r.rc == 0 and json.loads(r.out)["limited_to_source"] == "?", r
    assert plexus(home, "send", "t", "1", "--source", "pump-1", PLEXUS_API_KEY=limited).rc == 0
    r = plexus(home, "whoami", PLEXUS_API_KEY=limited)
    assert r.rc == 0 and "limit:    this key is limited to source pump-1" in r.out, r
    r = plexus(home, "send", "t", "1", "--source", "pump-2", PLEXUS_API_KEY=limited)
    assert r.rc == 3, r
    assert ("error: the key may not send as pump-2: this key is limited to source pump-1; pass "
            "--source pump-1 or use a key without a source limit") in r.err, r
    assert json.loads(plexus(home, "whoami", "--json").out)["limited_to_source"] is None
    write_only = gw.create_key(scopes="write")
    info = json.loads(plexus(home, "whoami", "--json", PLEXUS_API_KEY=write_only).out)
    assert info["status"] == "no-read" and info["limited_to_source"] is None, info


def test_query_of_an_unknown_source_suggests_sources(setup):
    home, gw = setup
    assert plexus(home, "send", "t", "1", "--source", "pump-07").rc == 0
    r = plexus(home, "query", "pump-7")
    assert r.rc == 1, r
    assert ("no readings in this window: the gateway has never seen a source named pump-7; "
            "`plexus sources` lists the ones it has") in r.out, r
    r = plexus(home, "query", "PUMP-07")
    assert "(did you mean pump-07?)" in r.out, r


def test_query_shows_events_and_takes_90s(setup):
    home, gw = setup
    assert plexus(home, "send", "temp", "21.5").rc == 0
    assert plexus(home, "send", "note", "pip install 'plexus-sdk[gateway]'").rc == 0
    r = plexus(home, "query", "hour-1", "--last", "90s")
    assert r.rc == 0, r
    assert "temp" in r.out and "21.5" in r.out and "pip install 'plexus-sdk[gateway]'" in r.out, r
    res = json.loads(plexus(home, "query", "hour-1", "--last", "90s", "--json").out)
    assert res["series"]["temp"]["value"] == [21.5]
    assert [(e["metric"], e["value"]) for e in res["events"]] == [("note", "pip install 'plexus-sdk[gateway]'")]
    r = plexus(home, "query", "hour-1", "--last", "5m", "--csv")
    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows[0] == ["time", "metric", "value"] and {tuple(x[1:]) for x in rows[1:]} == {
        ("temp", "21.5"), ("note", "pip install 'plexus-sdk[gateway]'")}, r
    r = plexus(home, "query", "hour-1", "--no-events", "--json")
    assert json.loads(r.out)["events"] == []


def test_events_lists_and_follows(setup):
    home, gw = setup
    assert plexus(home, "send", "state", '{"from": "IDLE", "to": "RUN"}').rc == 0
    assert plexus(home, "send", "door", "open", "--tag", "side=left").rc == 0
    r = plexus(home, "events", "hour-1")
    assert r.rc == 0 and "state" in r.out and '{"from":"IDLE","to":"RUN"}' in r.out and "open" in r.out, r
    r = plexus(home, "events", "hour-1", "--csv", "--name", "door")
    assert list(csv.reader(io.StringIO(r.out)))[0] == ["time", "name", "value", "tags"], r
    assert list(csv.reader(io.StringIO(r.out)))[1][1:] == ["door", "open", '{"side": "left"}'], r
    lines = plexus(home, "events", "hour-1", "--json").out.splitlines()
    assert [json.loads(x)["metric"] for x in lines] == ["state", "door"]
    r = plexus(home, "events", "nosuch")
    assert r.rc == 1 and "`plexus sources`" in r.out, r
    # --follow prints an event sent while it runs
    with Running(home, "events", "hour-1", "--follow", "--json", "--name", "alarm", "--for", "120") as p:
        p.wait_err("following events of hour-1")
        assert plexus(home, "send", "alarm", "overheat").rc == 0
        got = json.loads(p.next_line())
        assert got["metric"] == "alarm" and got["value"] == "overheat"


class Running:
    """A `plexus` command left running, its output read by threads."""

    def __init__(self, home, *args):
        import queue
        import threading
        self.p = subprocess.Popen([sys.executable, "-m", "plexus.cli"] + list(args), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=cli_env(home))
        self.lines = queue.Queue()
        self.err = []
        threading.Thread(target=lambda: [self.lines.put(x) for x in self.p.stdout], daemon=True).start()
        threading.Thread(target=lambda: [self.err.append(x) for x in self.p.stderr], daemon=True).start()

    def wait_err(self, text):
        wait_for(lambda: text in "".join(self.err), 90, text)

    def next_line(self, timeout=90):
        return self.lines.get(timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.kill()
        self.p.wait()


def test_sources_and_tail_speak_csv_and_json(setup):
    home, gw = setup
    assert plexus(home, "send", "temp", "1").rc == 0
    rows = list(csv.reader(io.StringIO(plexus(home, "sources", "--csv").out)))
    assert rows[0] == ["source", "state", "last seen"] and rows[1][0] == "hour-1", rows
    assert json.loads(plexus(home, "sources", "--json").out)[0]["source_id"] == "hour-1"
    with Running(home, "tail", "hour-1", "--csv", "--count", "1", "--for", "120") as p:
        assert p.next_line().strip() == "time,source,metric,value,tags"
        p.wait_err("following hour-1")
        assert plexus(home, "send", "temp", "2").rc == 0
        assert p.next_line().strip().split(",")[1:4] == ["hour-1", "temp", "2"]


def test_delete_forgets_a_source_with_a_write_key_only(setup):
    home, gw = setup
    for v in ("1", "2", "open"):
        assert plexus(home, "send", "x", v, "--source", "old-rig").rc == 0
    assert plexus(home, "send", "x", "1", "--source", "keep-rig").rc == 0
    reader = gw.create_key(scopes="read")
    r = plexus(home, "delete", "old-rig", "--yes", PLEXUS_API_KEY=reader)
    assert r.rc == 3 and "write" in r.err and gw.count("old-rig") == 3, r
    other = gw.create_key(scopes="write,read", source="keep-rig")
    r = plexus(home, "delete", "old-rig", "--yes", PLEXUS_API_KEY=other)
    assert r.rc == 3 and "limited to another source" in r.err and gw.count("old-rig") == 3, r
    r = plexus(home, "delete", "old-rig")  # no terminal, no --yes
    assert r.rc == 2 and "--yes" in r.err and gw.count("old-rig") == 3, r
    r = plexus(home, "delete", "old-rig", "--yes")
    assert r.rc == 0 and "deleted old-rig: 3 readings and events" in r.out, r
    assert gw.count("old-rig") == 0 and gw.count("keep-rig") == 1
    srcs = [d["source_id"] for d in json.loads(plexus(home, "sources", "--json").out)]
    assert "old-rig" not in srcs and "keep-rig" in srcs
    # the device can send again afterwards
    assert plexus(home, "send", "x", "5", "--source", "old-rig").rc == 0 and gw.count("old-rig") == 1
