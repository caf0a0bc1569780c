"""Helpers for the firmware tests: emulated boards (tools/board_emulator.py,
the real MicroPython interpreter behind a pseudo-terminal), and the real
mpremote and `plexus` commands run against them."""

import os
import signal
import subprocess
import sys
import time

from support import mpy

ROOT = mpy.ROOT
EMULATOR = os.path.join(ROOT, "tools", "board_emulator.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))

import board_emulator  # noqa: E402  (tools/ is not a package)


def wait_for(cond, timeout=60, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


class Emulator:
    """One emulated board; its output is logged to <tmp>/board.log."""

    def __init__(self, tmp_path, env, name="board", size="1M", wifi=None, heap=None):
        self.image = str(tmp_path / (name + ".img"))
        self.log_path = str(tmp_path / (name + ".log"))
        self.env = env
        cmd = [sys.executable, EMULATOR, "--image", self.image, "--size", size, "--echo",
               "--micropython", mpy.micropython()]
        if wifi:
            cmd += ["--wifi", wifi]
        if heap:
            cmd += ["--heap", heap]
        self.cmd = cmd
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.offset = self.log.tell()
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        first = wait_for(lambda: self.output().split("\n", 1)[0] if "\n" in self.output() else None,
                         30, "the emulator to start")
        assert first.startswith("Emulated board on "), first
        self.port = first.split()[3]

    def output(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.offset)
            return f.read().decode("utf-8", "replace")

    def wait_output(self, text, timeout=60):
        return wait_for(lambda: text in self.output(), timeout, "%r in the board output:\n%s"
                        % (text, self.output()[-3000:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def files(self):
        return board_emulator.read_flash(self.image, mpy.micropython())


def mpremote(port, *args, env=None, timeout=120):
    tool = os.path.join(os.path.dirname(sys.executable), "mpremote")
    r = subprocess.run([tool, "connect", port] + list(args), capture_output=True, text=True,
                       timeout=timeout, env=env)
    assert r.returncode == 0, "mpremote %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr)
    return r.stdout


def plexus(*args, env=None, timeout=120):
    """The real `plexus` command; returns (exit status, stdout + stderr)."""
    tool = os.path.join(os.path.dirname(sys.executable), "plexus")
    r = subprocess.run([tool] + list(args), capture_output=True, text=True, timeout=timeout, env=env)
    return r.returncode, r.stdout + r.stderr
