"""Device connections as the hosted gateway keeps them: the newest socket of a
source wins, a device that never answers pings stays connected, and dead
peers are left to TCP keepalive and failed writes."""

import json
import re
import subprocess

import pytest
import websocket

from support.firmware import FirmwareSocket
from support.raw import device, http, recv, wait_for

T0 = 1760000000000


def test_a_second_connection_for_a_source_closes_the_older_one_without_a_close_frame(gateway):
    old, _ = device(gateway, "rover-1")
    new, _ = device(gateway, "rover-1")
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        f = recv(old)        # a close frame would come back as {"type": "close", ...}
        pytest.fail("the older socket got %r" % (f,))
    new.send(json.dumps({"type": "telemetry", "seq": 1, "points": [{"metric": "m", "value": 1, "timestamp": T0}]}))
    assert recv(new) == {"type": "telemetry_ack", "seq": 1}
    status, body, _ = http(gateway, "POST", "/v1/sources/rover-1/commands", {"command": "blink"}, key=gateway.key)
    assert status == 200 and recv(new)["type"] == "typed_command"   # commands go to the newest socket
    other, _ = device(gateway, "rover-2")                            # other sources keep theirs
    other.send(json.dumps({"type": "telemetry", "seq": 1, "points": [{"metric": "m", "value": 1, "timestamp": T0}]}))
    assert recv(other)["type"] == "telemetry_ack"
    new.send(json.dumps({"type": "telemetry", "seq": 2, "points": [{"metric": "m", "value": 2, "timestamp": T0}]}))
    assert recv(new) == {"type": "telemetry_ack", "seq": 2}


def test_a_device_that_never_answers_pings_stays_connected(gateway):
    """The raw socket reads ping frames and never sends a pong. Two pings
    (30 s apart) arrive, so the socket outlived a whole ping cycle."""
    fw = FirmwareSocket(gateway.port)
    fw.send('{"type":"device_auth","api_key":"%s","source_id":"quiet-1","acks":true}' % gateway.key)
    assert '"type":"authenticated"' in fw.text()
    pings = 0
    while pings < 2:
        opcode, payload = fw.frame()
        assert opcode != 0x8, "closed: %r" % payload
        pings += opcode == 0x9
    fw.send('{"type":"telemetry","seq":1,"points":[{"metric":"m","value":1,"timestamp":%d}]}' % T0)
    assert '"type":"telemetry_ack"' in fw.text()
    fw.sock.close()


def test_device_sockets_use_tcp_keepalive(gateway):
    ws, _ = device(gateway, "keep-1")
    port = ws.sock.getsockname()[1]

    def timer():
        out = subprocess.run(["ss", "-tno", "state", "established", "( dport = :%d )" % port],
                             capture_output=True, text=True, timeout=30).stdout
        return re.search(r"timer:\(keepalive,", out)
    assert wait_for(timer, what="a keepalive timer on the gateway's side of the socket")
    ws.close()
