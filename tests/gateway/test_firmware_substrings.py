"""Small firmware parses nothing: it finds fields in the gateway's frames by
literal substrings ("type":"authenticated"), as Go's compact encoder writes
them. A whole session against the real gateway, read only that way: a raw
socket WebSocket client, no JSON parser on the receiving side."""

import json
import urllib.error
import urllib.request

from support.firmware import FirmwareSocket
from support.raw import http, wait_for


def between(text, start, end='"'):
    """The characters after `start` up to `end`: how firmware pulls one field out."""
    i = text.index(start) + len(start)
    return text[i:text.index(end, i)]


def test_a_substring_client_completes_a_whole_session(gateway):
    fw = FirmwareSocket(gateway.port)
    fw.send('{"type":"device_auth","api_key":"%s","source_id":"greenhouse-1","platform":"esp32",'
            '"agent_version":"fw-1.0","acks":true}' % gateway.key)
    auth = fw.text()
    assert '"type":"authenticated"' in auth and '"acks":true' in auth and '"source_id":"greenhouse-1"' in auth

    for seq in (1, 2, 3):
        fw.send('{"type":"telemetry","seq":%d,"points":[{"class":"metric","metric":"temp","value":%d,'
                '"timestamp":%d}]}' % (seq, 20 + seq, 1760000000000 + seq))
        assert between(fw.until('"type":"telemetry_ack"'), '"seq":', "}") == str(seq)
    assert [p["value"] for p in gateway.points("greenhouse-1")] == [21, 22, 23]

    status, body, hdrs = http(gateway, "POST", "/v1/sources/greenhouse-1/commands",
                              {"command": "vent", "params": {"open": True}}, key=gateway.key)
    assert status == 200, body
    cmd = fw.until('"type":"typed_command"')
    assert '"command":"vent"' in cmd and '"params":{"open":true}' in cmd
    cid = between(cmd, '"id":"')
    assert cid == body["id"]
    fw.send('{"type":"command_result","id":"%s","command":"vent","event":"result","result":{"vent":"open"}}' % cid)
    events = wait_for(lambda: http(gateway, "GET", "/v1/sources/greenhouse-1/commands/" + cid,
                                   key=gateway.key)[1]["events"], what="the result recorded")
    assert events[0]["result"] == {"vent": "open"}
    fw.sock.close()


def test_every_gateway_text_on_these_paths_is_compact(gateway):
    """HTTP bodies too: no space after ':' or ',' outside strings."""
    for method, path, body, key in [("POST", "/ingest", {"source_id": "gh-2", "points": []}, gateway.key),
                                    ("POST", "/ingest", {"points": []}, "plx_wrong"),
                                    ("POST", "/v1/sources/gh-2/commands", {"command": "x"}, gateway.key),
                                    ("POST", "/v1/sources/gh-2/commands", {"nope": 1}, gateway.key)]:
        req = urllib.request.Request(gateway.url + path, data=json.dumps(body).encode(), method=method,
                                     headers={"x-api-key": key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            text = e.read().decode()
        assert text.startswith("{") and json.dumps(json.loads(text), separators=(",", ":"),
                                                   ensure_ascii=False) == text, (path, text)
