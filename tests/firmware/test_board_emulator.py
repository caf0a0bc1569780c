"""The emulated board (tools/board_emulator.py) behaves like a MicroPython
board to the real mpremote: raw REPL, file copies onto a littlefs image that
outlives the emulator, soft reset, Ctrl-C, machine.reset(), the watchdog and
deep sleep."""

import functools
import http.server
import os
import subprocess
import sys
import threading

import serial

from emulated import mpremote, wait_for
from support import mpy

BOOT_COUNTER = """
import machine
n = 0
try:
    with open("boots") as f:
        n = int(f.read())
except OSError:
    pass
with open("boots", "w") as f:
    f.write(str(n + 1))
print("boot %d cause %d" % (n + 1, machine.reset_cause()))
"""


def test_mpremote_copies_files_onto_the_flash_image(emulator, tmp_path):
    board = emulator()
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello flash\n" * 100)
    mpremote(board.port, "fs", "mkdir", ":data", "+", "fs", "cp", str(src), ":data/hello.txt")
    out = mpremote(board.port, "exec", "import os, sys; print(sorted(os.listdir('/')), sys.path)")
    assert "['data']" in out and "'/lib'" in out  # the board sees only its flash
    board.stop()
    files = board.files()
    assert files["/data/hello.txt"] == src.read_bytes()
    assert "formatting the flash image" in board.output()


def test_soft_reset_runs_main_ctrl_c_stops_it_and_raw_reset_skips_it(emulator, tmp_path):
    board = emulator()
    main = tmp_path / "main.py"
    main.write_text(BOOT_COUNTER + "import time\nwhile True:\n    print('tick')\n    time.sleep(0.05)\n")
    mpremote(board.port, "fs", "cp", str(main), ":main.py", "+", "soft-reset")
    # mpremote's soft reset happens in raw REPL: firmware skips main.py then
    assert "tick" not in board.output()
    with serial.Serial(board.port, timeout=0.2) as s:
        s.write(b"\r\x03\r\x02")  # to the normal REPL
        board.wait_output(">>> ")
        s.write(b"\x04")  # soft reset from the normal REPL: boot.py + main.py
        board.wait_output("tick")
        assert "MPY: soft reboot" in board.output()
        s.write(b"\x03")  # Ctrl-C interrupts the running program
        wait_for(lambda: board.output().rsplit("KeyboardInterrupt", 1)[-1].endswith(">>> "), 30,
                 "KeyboardInterrupt, then the REPL prompt")
        s.write(b"print(6 * 7)\r")
        board.wait_output("42")
    board.stop()
    assert board.files()["/boots"] == b"1"


def test_reset_deep_sleep_and_watchdog_restart_the_board(emulator, tmp_path):
    board = emulator()
    main = tmp_path / "main.py"
    main.write_text(BOOT_COUNTER + """
if n == 0:
    machine.reset()
elif n == 1:
    machine.deepsleep(300)
elif n == 2:
    wdt = machine.WDT(timeout=300)
    while True:  # hung: never feeds the watchdog
        pass
print("all done")
""")
    # mpremote's reset command calls machine.reset()
    mpremote(board.port, "fs", "cp", str(main), ":main.py", "+", "reset")
    board.wait_output("all done", timeout=90)
    out = board.output()
    assert "boot 1 cause 2" in out  # machine.reset() from mpremote: HARD_RESET
    assert "boot 2 cause 2" in out  # main.py's own machine.reset()
    assert "deep sleep 300 ms" in out and "boot 3 cause 4" in out  # DEEPSLEEP_RESET
    assert "watchdog reset" in out and "boot 4 cause 3" in out  # WDT_RESET
    board.stop()
    assert board.files()["/boots"] == b"4"


def test_wifi_stand_in_joins_only_its_network(emulator):
    board = emulator(wifi="bench-net:right-pass")
    out = mpremote(board.port, "exec", """
import network, time
w = network.WLAN(network.STA_IF)
w.active(True)
w.connect("bench-net", "wrong")
print("bad", w.status() == network.STAT_WRONG_PASSWORD, w.isconnected())
w.connect("other-net", "right-pass")
print("missing", w.status() == network.STAT_NO_AP_FOUND)
w.connect("bench-net", "right-pass")
t = time.ticks_ms()
while not w.isconnected() and time.ticks_diff(time.ticks_ms(), t) < 5000:
    time.sleep_ms(20)
print("good", w.isconnected(), w.status("rssi") < 0)
""")
    assert "bad True False" in out
    assert "missing True" in out
    assert "good True True" in out


def test_plain_emulator_has_no_wifi_like_the_unix_port(emulator):
    board = emulator()
    out = mpremote(board.port, "exec", """
try:
    import network
    print("has network")
except ImportError:
    print("no network")
""")
    assert "no network" in out


def test_output_nobody_reads_does_not_stall_the_board(emulator, tmp_path):
    # A board printing with no computer attached keeps running (its UART
    # drops what nobody reads); later a client still gets a clean REPL.
    board = emulator()
    main = tmp_path / "main.py"
    main.write_text("import time\nfor i in range(3000):\n    print('line %04d ' % i + 'x' * 60)\n"
                    "with open('finished', 'w') as f:\n    f.write('yes')\nprint('finished')\n")
    mpremote(board.port, "fs", "cp", str(main), ":main.py", "+", "reset")
    board.wait_output("finished", timeout=120)
    out = mpremote(board.port, "exec", "print(open('finished').read())")
    assert "yes" in out


def test_mpremote_mip_installs_the_core_from_package_json(emulator, board_env):
    # The other way onto a board: `mpremote mip install` with the repo's
    # package.json, served over plain http like a release would be.
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    handler = functools.partial(Quiet, directory=mpy.ROOT)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        board = emulator()
        url = "http://127.0.0.1:%d/package.json" % server.server_address[1]
        out = mpremote(board.port, "mip", "install", url, env=board_env)
        assert "Done" in out, out
        out = mpremote(board.port, "exec", "from plexus import PlexusError\nfrom plexus_core.source_id import "
                       "is_valid_source_id\nprint(is_valid_source_id('pump-07'), PlexusError.__name__)",
                       env=board_env)
        assert "True PlexusError" in out, out
    finally:
        server.shutdown()
    board.stop()
    assert "/lib/plexus_core/points.py" in board.files()


def test_image_listing_for_people(emulator, tmp_path):
    board = emulator()
    mpremote(board.port, "exec", "import os\nos.mkdir('/etc')\nwith open('/etc/motd', 'w') as f:\n f.write('hi')")
    board.stop()
    tool = [sys.executable, os.path.join(mpy.ROOT, "tools", "board_emulator.py"), "--image", board.image,
            "--micropython", mpy.micropython()]
    ls = subprocess.run(tool + ["--ls"], capture_output=True, text=True, timeout=120)
    assert ls.returncode == 0 and "/etc/" in ls.stdout and "2  /etc/motd" in ls.stdout, ls.stdout + ls.stderr
    cat = subprocess.run(tool + ["--cat", "/etc/motd"], capture_output=True, text=True, timeout=120)
    assert cat.stdout == "hi"
