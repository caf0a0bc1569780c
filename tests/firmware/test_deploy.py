"""`plexus deploy` against emulated boards: what lands on the flash, what is
printed (never the key), and the errors a user meets."""

import json
import os
import pty
import subprocess
import types

import pytest

from emulated import mpremote, plexus
from plexus.cli.common import CommandError
from plexus.cli.deploy import Console
from plexus.cli.deploy.boards import find_boards
from plexus.cli.deploy.files import FIRMWARE, ROOT, board_files, compile_mpy, firmware_modules, mpy_cross_command
from plexus.cli.deploy.repl import check_board

KEY = "plx_deploytestkey_5f2a9c"
WIFI_PASSWORD = "wifi-secret-77"


def core_modules():
    with open(os.path.join(ROOT, "package.json")) as f:
        return ["/lib/" + dest for dest, _ in json.load(f)["urls"]]


def test_deploy_puts_core_firmware_and_config_on_the_board(emulator, board_env):
    board = emulator()
    rc, out = plexus("deploy", "--port", board.port, "--no-check", "--key", KEY, "--wifi", "bench:" + WIFI_PASSWORD,
                     "--source-id", "bench-7", "--gateway", "http://127.0.0.1:9/", "--tail", "0",
                     env=board_env)
    assert rc == 0, out
    assert KEY not in out and WIFI_PASSWORD not in out
    assert "API key set (hidden)" in out and "MicroPython 1." in out
    board.stop()
    files = board.files()
    for module in core_modules():  # compiled for the board, nothing else beside them
        assert module[:-3] + ".mpy" in files and module not in files, module
        assert files[module[:-3] + ".mpy"][:2] == b"M\x06"
    assert files["/lib/plexus_device.mpy"][:1] == b"M"
    for name in ("boot.py", "main.py"):
        with open(os.path.join(FIRMWARE, name), "rb") as f:
            assert files["/" + name] == f.read()
    cfg = json.loads(files["/plexus_config.json"])
    assert cfg == {"api_key": KEY, "wifi_ssid": "bench", "wifi_password": WIFI_PASSWORD,
                   "source_id": "bench-7", "gateway_url": "http://127.0.0.1:9"}
    assert "/plexus_config.json.new" not in files


def test_redeploy_copies_only_changes_and_keeps_the_key_on_the_board(emulator, board_env):
    board = emulator()
    rc, out = plexus("deploy", "--port", board.port, "--no-check", "--key", KEY, "--tail", "0", env=board_env)
    assert rc == 0, out
    rc, out = plexus("deploy", "--port", board.port, "--no-check", "--source-id", "renamed", "--interval", "2",
                     "--tail", "0", env=board_env)
    assert rc == 0, out
    n = len(board_files())
    assert "Copying 0 of %d files (%d unchanged)" % (n, n) in out
    assert KEY not in out  # read back from the board, still masked
    board.stop()
    cfg = json.loads(board.files()["/plexus_config.json"])
    assert cfg["api_key"] == KEY and cfg["source_id"] == "renamed" and cfg["interval_s"] == 2


def test_sources_then_mpy_leaves_no_stale_py_to_shadow_the_mpy(emulator, board_env):
    board = emulator()
    rc, out = plexus("deploy", "--port", board.port, "--no-check", "--key", KEY, "--no-mpy", "--tail", "0", env=board_env)
    assert rc == 0, out
    # a module that no longer exists in the core is removed too
    mpremote(board.port, "exec", "open('/lib/plexus_core/retired.py', 'w').close()", env=board_env)
    rc, out = plexus("deploy", "--port", board.port, "--no-check", "--tail", "0", env=board_env)
    assert rc == 0, out
    board.stop()
    files = board.files()
    lib = sorted(p for p in files if p.startswith(("/lib/plexus_core/", "/lib/plexus_board/"))
                 and not p.endswith("/"))
    assert len(lib) == len(core_modules()) - 1 and all(p.endswith(".mpy") for p in lib), lib
    for module in firmware_modules():
        assert "/lib/" + module not in files and "/lib/" + module[:-3] + ".mpy" in files


def test_full_flash_is_reported_and_nothing_is_lost(emulator, board_env):
    board = emulator(size="128K")
    mpremote(board.port, "exec", "f = open('/keep.bin', 'wb')\nfor i in range(88):\n f.write(bytes(1024))\nf.close()",
             env=board_env)
    rc, out = plexus("deploy", "--port", board.port, "--no-check", "--key", KEY, "--no-mpy", "--tail", "0", env=board_env)
    assert rc == 1
    assert "flash is full" in out and "KiB are free" in out, out
    assert "Traceback" not in out
    board.stop()
    files = board.files()
    assert files["/keep.bin"] == bytes(88 * 1024)
    assert "/plexus_config.json" not in files and "/main.py" not in files


def test_list_shows_running_emulated_boards(emulator, board_env):
    board = emulator()
    rc, out = plexus("deploy", "--list", env=board_env)
    assert rc == 0 and board.port in out and "emulated" in out, out


def test_no_board_found_says_what_to_do(board_env):
    if any(not p.startswith("/dev/pts/") for p, _ in find_boards()):
        pytest.skip("a USB board is plugged into this machine")
    rc, out = plexus("deploy", "--key", KEY, env=board_env)
    assert rc == 1 and "no board found" in out and "--list" in out, out


def test_missing_port_and_silent_port(board_env):
    rc, out = plexus("deploy", "--port", "/dev/does-not-exist", "--key", KEY, env=board_env)
    assert rc == 1 and "no board at /dev/does-not-exist" in out, out
    master, slave = pty.openpty()  # a serial port with no MicroPython behind it
    try:
        rc, out = plexus("deploy", "--port", os.ttyname(slave), "--key", KEY, "--timeout", "1", env=board_env)
    finally:
        os.close(master)
        os.close(slave)
    assert rc == 1 and "does not answer like a MicroPython board" in out, out
    assert KEY not in out


@pytest.mark.parametrize("args, message", [
    (["--key", "sk_live_123"], "start with plx_"),
    (["--key", KEY, "--source-id", "Bad Name"], "source_id"),
    (["--key", KEY, "--gateway", "gateway.example.com"], "http:// or https://"),
    (["--key", KEY, "--wifi", ":nossid"], "SSID:PASSWORD"),
    (["--key", KEY, "--interval", "0"], "--interval"),
])
def test_bad_settings_are_refused_before_touching_a_board(args, message, board_env):
    rc, out = plexus("deploy", "--port", "/dev/does-not-exist", *args, env=board_env)
    assert rc == 1 and message in out, out
    assert "no board at" not in out  # checked first
    assert "sk_live_123" not in out


def test_a_key_is_required_somewhere(emulator, board_env):
    board = emulator()
    rc, out = plexus("deploy", "--port", board.port, "--no-check", "--tail", "0", env=board_env)
    assert rc == 1 and "no API key" in out and "PLEXUS_API_KEY" in out, out
    env = dict(board_env, PLEXUS_API_KEY=KEY)
    rc, out = plexus("deploy", "--port", board.port, "--no-check", "--tail", "0", env=env)
    assert rc == 0 and KEY not in out, out


def info(**kw):
    base = {"name": "micropython", "version": (1, 29, 0), "mpy": (6, 3)}
    base.update(kw)
    return base


def test_old_or_foreign_firmware_is_refused_with_the_fix():
    check_board(info())
    with pytest.raises(CommandError, match="1.19.1; Plexus needs 1.23 or newer"):
        check_board(info(version=(1, 19, 1)))
    with pytest.raises(CommandError, match="circuitpython, not MicroPython"):
        check_board(info(name="circuitpython"))


def test_mpy_files_match_the_boards_mpy_version(tmp_path):
    files = [("/lib/plexus_core/limits.py", os.path.join(ROOT, "core/plexus_core/limits.py"), True)]
    for board_mpy in ((6, 3), (6, 2), (6, 1), (5, 0)):
        # the mpy-cross chosen says which .mpy version it emits
        cmd = mpy_cross_command(board_mpy)
        version = subprocess.run(cmd + ["--version"], capture_output=True, text=True).stdout
        want = "mpy v%d.%d" % board_mpy if board_mpy[1] else "mpy v%d" % board_mpy[0]
        assert version.strip().endswith(want), (board_mpy, version)
        work = tmp_path / ("v%d%d" % board_mpy)
        work.mkdir()
        (dest, path, _), = compile_mpy(files, board_mpy, str(work))
        with open(path, "rb") as f:
            header = f.read(2)
        assert dest == "/lib/plexus_core/limits.mpy" and header == b"M" + bytes([board_mpy[0]])
    with pytest.raises(CommandError, match="--no-mpy"):
        compile_mpy(files, (7, 0), str(tmp_path))


def test_console_masks_secrets_in_everything_it_prints():
    lines = []
    say = Console([KEY, None, ""], stream=types.SimpleNamespace(write=lines.append, flush=lambda: None))
    say.hide("hunter22")
    say("board | key=%s pw=hunter22" % KEY)
    assert KEY not in "".join(lines) and "hunter22" not in "".join(lines)
