"""From an emulated board to a real local gateway: `plexus deploy` copies
the core and firmware, the board boots main.py, joins the (stand-in) Wi-Fi,
and its readings are stored by the gateway; the flash image is inspected
afterwards."""

import json
import os

import pytest

from emulated import plexus, wait_for
from support import mpy, pki

if not os.path.exists(os.path.join(mpy.CORE, "plexus_board", "client.py")):
    pytest.skip("the board client (core/plexus_board/client.py) is not in this tree", allow_module_level=True)
gateway_support = pytest.importorskip("support.gateway")


@pytest.fixture
def gw(tmp_path):
    g = gateway_support.Gateway(tmp_path / "gateway")
    g.start()
    yield g
    g.stop()


def metrics(gw, source_id):
    return {p["metric"] for p in gw.points(source_id)}


def test_deploy_then_readings_reach_the_gateway(emulator, board_env, gw):
    board = emulator(wifi="bench-net:bench-pass")
    rc, out = plexus("deploy", "--port", board.port, "--key", gw.key, "--wifi", "bench-net:bench-pass",
                     "--source-id", "emu-bench-1", "--gateway", gw.url, "--interval", "1",
                     "--tail", "120", env=board_env)
    assert rc == 0, out
    assert "Done: the board's readings reach the gateway" in out, out
    assert gw.key not in out and "bench-pass" not in out
    assert "wifi: connected" in out
    wait_for(lambda: {"mem.free_bytes", "wifi.rssi_dbm"} <= metrics(gw, "emu-bench-1"), 60,
             "the board's metrics at the gateway")
    # deploying again interrupts the running firmware loop (Ctrl-C), changes
    # one setting and keeps the rest
    rc, out = plexus("deploy", "--port", board.port, "--interval", "2", "--tail", "120", env=board_env)
    assert rc == 0 and "Done" in out and "stopped by Ctrl-C" in board.output(), out
    board.stop()
    files = board.files()
    cfg = json.loads(files["/plexus_config.json"])
    assert cfg["api_key"] == gw.key and cfg["source_id"] == "emu-bench-1" and cfg["interval_s"] == 2
    assert "/data/plexus/" in files  # the flash buffer the firmware writes through
    assert files["/main.py"] == open(os.path.join(mpy.ROOT, "firmware", "main.py"), "rb").read()


def test_readings_taken_offline_survive_a_power_cut(emulator, board_env, gw, tmp_path):
    # Gateway unreachable: readings wait on flash. The board loses power; on
    # the next boot, with the gateway back, every reading taken arrives.
    board = emulator()
    rc, out = plexus("deploy", "--port", board.port, "--key", gw.key, "--source-id", "emu-offline",
                     "--gateway", "http://127.0.0.1:9", "--interval", "0.2", "--tail", "0", "--no-check",
                     env=board_env)
    assert rc == 0, out
    wait_for(lambda: board.output().count("readings taken") >= 2, 120, "two progress lines (10 s apart)")
    board.stop()  # power cut: the interpreter is killed
    taken = max(int(line.split()[1]) for line in board.output().splitlines()
                if line.startswith("plexus: ") and "readings taken" in line)
    board2 = emulator()  # power back: the same flash image, now pointed at the real gateway
    assert board2.image == board.image
    rc, out = plexus("deploy", "--port", board2.port, "--gateway", gw.url, "--interval", "5",
                     "--tail", "120", env=board_env)
    assert rc == 0 and "Done" in out, out
    wait_for(lambda: gw.count("emu-offline") >= taken, 120, "%d offline readings at the gateway" % taken)


def test_deep_sleep_mode_syncs_on_wake(emulator, board_env, gw):
    # Each wake: one reading to flash, then join Wi-Fi, send it, and sleep again.
    board = emulator(wifi="bench-net:bench-pass")
    rc, out = plexus("deploy", "--port", board.port, "--key", gw.key, "--wifi", "bench-net:bench-pass",
                     "--source-id", "emu-sleeper", "--gateway", gw.url, "--deep-sleep", "1",
                     "--tail", "0", env=board_env)
    assert rc == 0, out
    wait_for(lambda: board.output().count("wake from deep sleep") >= 4, 180, "four wakes")
    wait_for(lambda: gw.count("emu-sleeper") >= 2, 120, "readings from the sleeping board")
    assert "plexus: online" in board.output()


@pytest.mark.skipif(not pki.available(), reason="openssl makes the test CA")
def test_https_gateway_needs_a_ca_and_works_with_one(emulator, board_env, tmp_path):
    ca = pki.make(tmp_path / "pki")
    tls = gateway_support.Gateway(tmp_path / "tls-gateway", tls=(ca / "gw.pem", ca / "gw.key"))
    tls.start()
    try:
        board = emulator(wifi="bench-net:bench-pass")
        # no CA: deploy cannot verify the gateway either, and stops before copying
        rc, out = plexus("deploy", "--port", board.port, "--key", tls.key, "--gateway", tls.url, env=board_env)
        assert rc == 4 and "cannot verify the certificate of %s" % tls.url in out and "--ca FILE" in out, out
        # told not to check: deploy warns, the firmware names the problem instead of sending unverified
        rc, out = plexus("deploy", "--port", board.port, "--key", tls.key, "--wifi", "bench-net:bench-pass",
                         "--source-id", "emu-tls", "--gateway", tls.url, "--interval", "1", "--tail", "60",
                         "--no-check", env=board_env)
        assert "no CA certificate" in out and "config problem" in out and "--ca FILE" in out, out
        assert tls.count("emu-tls") == 0
        rc, out = plexus("deploy", "--port", board.port, "--ca", str(ca / "ca.der"), "--tail", "120",
                         env=board_env)
        assert rc == 0 and "Done: the board's readings reach the gateway" in out, out
        wait_for(lambda: tls.count("emu-tls") > 0, 60, "readings over verified TLS")
        board.stop()
        assert json.loads(board.files()["/plexus_config.json"])["ca_file"] == "/plexus_ca.der"
    finally:
        tls.stop()
