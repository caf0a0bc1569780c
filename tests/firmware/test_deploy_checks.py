"""`plexus deploy` tells the truth: it checks the key with the gateway before
copying, uses what `plexus init` saved, warns about a loopback gateway URL,
and exits non-zero (3, 4 or 5, with what to do) when the board's readings
are not acknowledged. Emulated boards, real mpremote, a real gateway."""

import json
import os

import pytest

from emulated import plexus
from plexus.cli import deploy
from support import mpy

if not os.path.exists(os.path.join(mpy.CORE, "plexus_board", "client.py")):
    pytest.skip("the board client is not in this tree", allow_module_level=True)
gateway_support = pytest.importorskip("support.gateway")


@pytest.fixture
def gw(tmp_path):
    g = gateway_support.Gateway(tmp_path / "gateway")
    g.start()
    yield g
    g.stop()


def copied(board):
    board.stop()
    return [p for p in board.files() if p.startswith("/lib/") or p in ("/main.py", "/plexus_config.json")]


def test_deploy_uses_the_saved_config(emulator, board_env, gw):
    rc, out = plexus("init", "--gateway", gw.url, "--key", gw.key, env=board_env)
    assert rc == 0, out
    board = emulator(wifi="bench-net:bench-pass")
    rc, out = plexus("deploy", "--port", board.port, "--wifi", "bench-net:bench-pass", "--source-id",
                     "emu-saved", "--interval", "1", "--tail", "120", env=board_env)
    assert rc == 0 and "Done: the board's readings reach the gateway" in out, out
    saved = str(board_env["HOME"]) + "/.plexus/config.json"
    assert "API key from %s; gateway %s from %s" % (saved, gw.url, saved) in out, out
    assert "Gateway %s accepts the key (checked from this computer)" % gw.url in out
    assert "gateway %s," % gw.url in out and gw.key not in out
    board.stop()
    cfg = json.loads(board.files()["/plexus_config.json"])
    assert cfg["api_key"] == gw.key and cfg["gateway_url"] == gw.url


def test_a_rejected_key_stops_before_copying(emulator, board_env, gw):
    board = emulator()
    rc, out = plexus("deploy", "--port", board.port, "--key", "plx_notarealkey00000", "--gateway", gw.url,
                     env=board_env)
    assert rc == 3, out
    assert ("Error: the gateway at %s rejects the API key (from the command line). Create a key there "
            "(`plexus gateway keys create` for a local gateway) and pass it with --key. Nothing was "
            "copied." % gw.url) in out, out
    assert copied(board) == []


def test_an_unreachable_gateway_stops_before_copying(emulator, board_env):
    board = emulator()
    rc, out = plexus("deploy", "--port", board.port, "--key", "plx_deploytestkey_5f2a9c", "--gateway",
                     "http://127.0.0.1:9", env=board_env)
    assert rc == 4, out
    assert ("Error: cannot reach the gateway at http://127.0.0.1:9 from this computer (from the command "
            "line). Start it (`plexus gateway --host 0.0.0.0`) or fix --gateway; if only the board's "
            "network reaches it, deploy with --no-check. Nothing was copied.") in out, out
    assert copied(board) == []


def test_no_key_anywhere_stops_before_copying(emulator, board_env):
    board = emulator()
    rc, out = plexus("deploy", "--port", board.port, "--gateway", "http://127.0.0.1:9", env=board_env)
    assert rc == 1 and "no API key" in out and "plexus init" in out and "Nothing was copied" in out, out
    assert copied(board) == []


def test_a_wrong_wifi_password_exits_5_and_says_so(emulator, board_env, gw):
    board = emulator(wifi="bench-net:bench-pass")
    rc, out = plexus("deploy", "--port", board.port, "--key", gw.key, "--gateway", gw.url,
                     "--wifi", "bench-net:wrong-pass", "--tail", "20", env=board_env)
    assert rc == 5, out
    assert "Error: the board did not join Wi-Fi 'bench-net' (it said: wifi: " in out, out
    assert "check the network name and password and deploy again with `plexus deploy --wifi " \
           "SSID:PASSWORD`." in out
    assert "wrong-pass" not in out


def test_readings_not_acknowledged_exit_5_with_what_to_do(emulator, board_env):
    board = emulator()
    rc, out = plexus("deploy", "--port", board.port, "--key", "plx_deploytestkey_5f2a9c", "--gateway",
                     "http://127.0.0.1:9", "--no-check", "--interval", "0.5", "--tail", "8", env=board_env)
    assert rc == 5, out
    assert ("Error: the board is running, but the gateway at http://127.0.0.1:9 acknowledged none of "
            "its readings within 8 s") in out, out
    assert "`plexus gateway --host 0.0.0.0`" in out and "mpremote connect %s repl" % board.port in out


def test_a_key_the_gateway_refuses_later_exits_3(emulator, board_env, gw):
    # checked from this computer, then revoked before the board uses it
    key = gw.create_key(name="soon-revoked")
    board = emulator()
    rc, out = plexus("deploy", "--port", board.port, "--key", key, "--gateway", gw.url, "--no-check",
                     "--tail", "0", env=board_env)
    assert rc == 0 and "Not watching the board (--tail 0)" in out, out
    rc, out = plexus("gateway", "keys", "revoke", "soon-revoked", "--db", gw.db_path, env=board_env)
    assert rc == 0, out
    rc, out = plexus("deploy", "--port", board.port, "--no-check", "--tail", "60", env=board_env)
    assert rc == 3, out
    assert "refused the board's API key: deploy again with `plexus deploy --key plx_...`" in out, out


def test_a_broken_saved_config_is_named(board_env):
    os.makedirs(os.path.join(board_env["HOME"], ".plexus"))
    path = os.path.join(board_env["HOME"], ".plexus", "config.json")
    with open(path, "w") as f:
        f.write('{"api_key": 12345}')
    rc, out = plexus("deploy", "--port", "/dev/does-not-exist", env=board_env)
    assert rc == 1 and "Error: %s line 1: field api_key must be a string" % path in out, out
    assert "Traceback" not in out and "lost contact" not in out


def test_a_source_id_with_capitals_suggests_the_valid_one(board_env):
    rc, out = plexus("deploy", "--port", "/dev/does-not-exist", "--key", "plx_deploytestkey_5f2a9c",
                     "--source-id", "Pump-07", env=board_env)
    assert rc == 1 and "did you mean --source-id pump-07?" in out, out


def test_loopback_urls_are_the_board_itself():
    text = deploy.loopback_warning("http://127.0.0.1:8080", emulated=False)
    assert text.startswith("Warning: the board's gateway URL http://127.0.0.1:8080 names 127.0.0.1, "
                           "which on the board is the board itself: nothing will arrive.")
    assert "`plexus gateway --host 0.0.0.0`" in text
    assert "localhost" in deploy.loopback_warning("http://localhost:8080", emulated=False)
    assert deploy.loopback_warning("http://127.0.0.1:8080", emulated=True) is None  # same computer
    assert deploy.loopback_warning("http://192.168.1.20:8080", emulated=False) is None


def test_exit_codes_are_documented():
    with open(os.path.join(mpy.ROOT, "docs", "firmware.md")) as f:
        doc = f.read()
    for code in ("`0`", "`3`", "`4`", "`5`"):
        assert code in doc.split("## Exit codes", 1)[1], code
    assert "5 the board runs but the gateway acknowledged none" in deploy.EXIT_CODES
