"""Declarations are checked when they are made; serve() blocks and stops cleanly.

No gateway needed: the client points at a closed port and keeps retrying.
"""

import os
import signal
import subprocess
import sys
import threading

import pytest

from plexus import CommandDeclarationError, Plexus

OFFLINE = "ws://127.0.0.1:9"


@pytest.fixture
def px():
    c = Plexus(api_key="plx_test", source_id="rig-1", ws_url=OFFLINE, persistent_buffer=False)
    yield c
    c.close()


def test_bad_declarations_raise_at_decoration(px):
    cases = [
        (dict(name="Open-Valve"), "^[a-z]"),
        (dict(danger="scary"), "danger"),
        (dict(expires_in=1), "expires_in"),
        (dict(concurrency="queue"), "concurrency"),
        (dict(idempotent="yes"), "idempotent"),
        (dict(params={"n": {"type": "integer", "minimum": 3, "maximum": 1}}), "minimum"),
        (dict(params={"n": {"type": "integer", "default": 1, "required": True}}), "default"),
        (dict(params={"n": {"type": "float"}}), "type"),
    ]
    for kw, words in cases:
        kw.setdefault("name", "valve")
        with pytest.raises(CommandDeclarationError) as e:
            px.command(**kw)(lambda run, n=None: None)
        assert words in str(e.value), (kw, str(e.value))
    assert px._commands.declared == []


def test_handler_signature_must_take_the_params(px):
    with pytest.raises(CommandDeclarationError) as e:
        @px.command(params={"valve": {"type": "integer"}})
        def open_valve(run):
            pass
    assert "valve" in str(e.value)
    with pytest.raises(CommandDeclarationError):
        px.command("x")(42)

    @px.command(params={"valve": {"type": "integer"}})
    def open_valve(run, **kw):  # noqa: F811  (a handler taking **kw accepts any param)
        pass
    assert px._commands.declared == ["open_valve"]


def test_bare_decorator_names_the_command_after_the_function(px):
    @px.command
    def reboot(run):
        return "ok"
    assert reboot(None) == "ok"  # the function is returned unchanged
    assert [e["name"] for e in px._sender.session.commands] == ["reboot"]
    entry = px._sender.session.commands[0]
    assert entry == {"name": "reboot", "params": {}, "danger": "normal", "idempotent": False,
                     "expires_in_s": 30.0, "concurrency": "accept"}


def test_legacy_commands_are_not_in_the_manifest(px):
    px.on_command("set_led", lambda c, p: None, params=[{"name": "on", "type": "bool"}])
    assert px._sender.session.commands is None
    with pytest.raises(CommandDeclarationError):
        px.on_command("x", "not callable")


def test_serve_times_out_or_stops(px):
    assert px.serve(timeout=0.2) is False
    threading.Timer(0.2, px.stop_serving).start()
    assert px.serve(timeout=60) is True


SERVE_SCRIPT = r"""
import sys
from plexus import Plexus
px = Plexus(api_key="plx_test", source_id="rig-1", ws_url=%r, persistent_buffer=False)
@px.command
def ping(run):
    return "pong"
print("ready", flush=True)
stopped = px.serve()
px.close()
print("served", stopped, flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_ends_on_a_signal(tmp_path, sig):
    env = dict(os.environ, PLEXUS_QUIET="")
    p = subprocess.Popen([sys.executable, "-c", SERVE_SCRIPT % OFFLINE], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    try:
        assert p.stdout.readline().strip() == "ready"
        # serve() announces itself on stderr once it is listening for signals
        line = ""
        while "serving" not in line:
            line = p.stderr.readline()
            assert line, "serve() never said it was serving"
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert out.strip() == "served True"
    assert "serving 1 command as rig-1" in line
